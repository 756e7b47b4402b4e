"""HTTP bulk intake, event search, quarantine: API and pages."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from foundation_db import B_MARKER, csrf_of, login
from mamori.bus.base import BusError, BusFull, Message
from mamori.store.repos import apikeys
from mamori.store.repos import ingest as repo

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@dataclass
class FakeBus:
    """Records what the intake publishes; can be made full or broken."""

    messages: list[Message] = field(default_factory=list)
    full: bool = False
    size_bytes: int = 0
    max_bytes: int = 1000
    error: Exception | None = None

    def is_full(self) -> bool:
        return self.full

    async def publish_many(self, messages: Sequence[Message]) -> None:
        if self.error is not None:
            raise self.error
        self.messages.extend(messages)

    def raw_lines(self) -> list[dict]:
        out = []
        for m in self.messages:
            if m.subject.startswith("mamori.raw."):
                out.extend(json.loads(line) for line in m.data.splitlines() if line)
        return out

    def quarantined(self) -> list[dict]:
        return [json.loads(m.data) for m in self.messages if ".quarantine." in m.subject]


@pytest.fixture
def bus(app):
    fake = FakeBus()
    app.state.bus = fake
    return fake


def _key(world, name):
    return {"Authorization": f"Bearer {world.token(name)}"}


def _ndjson(n: int, start: int = 0) -> bytes:
    return b"".join(
        json.dumps({"n": i, "msg": f"ログ {i}", "host": "srv1"}).encode() + b"\n"
        for i in range(start, start + n)
    )


def test_ndjson_body_is_queued_for_the_keys_tenant(client, world, bus):
    r = client.post(
        "/api/v1/ingest/json_lines", content=_ndjson(1200), headers=_key(world, "a-ingest")
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "accepted": 1200,
        "rejected": 0,
        "source": "json_lines",
        "tenant": "tenant-a",
        "rejections": [],
    }
    assert {m.subject for m in bus.messages} == {"mamori.raw.tenant-a.json_lines"}
    assert [x["n"] for x in bus.raw_lines()] == list(range(1200))


def test_json_array_and_gzip_bodies(client, world, bus):
    array = json.dumps([{"a": 1}, {"a": 2}, 3, "x", {"a": 4}]).encode()
    r = client.post(
        "/api/v1/ingest/json_lines",
        content=gzip.compress(array),
        headers={**_key(world, "a-ingest"), "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (3, 2)
    assert [x["index"] for x in body["rejections"]] == [2, 3]
    assert "not an object" in body["rejections"][0]["reason"]
    # rejected records are not lost: they are quarantined with their reason
    reasons = [q["reason"] for q in bus.quarantined()]
    assert len(reasons) == 2 and all("not an object" in x for x in reasons)
    assert {q["tenant"] for q in bus.quarantined()} == {"tenant-a"}


def test_json_lines_that_are_not_objects_are_rejected_and_counted(client, world, bus):
    body = b'{"ok": 1}\n[1, 2]\n"text"\nnot json at all\n{"ok": 2}\n'
    r = client.post("/api/v1/ingest/json_lines", content=body, headers=_key(world, "a-ingest"))
    assert r.status_code == 200
    assert (r.json()["accepted"], r.json()["rejected"]) == (2, 3)
    raws = sorted(q["raw"] for q in bus.quarantined())
    assert raws == sorted(['"text"', "[1, 2]", "not json at all"])


def test_oversized_body_gets_a_clear_413(client, world, bus, settings):
    settings.ingest_max_body_bytes = 10_000
    r = client.post(
        "/api/v1/ingest/json_lines", content=_ndjson(1000), headers=_key(world, "a-ingest")
    )
    assert r.status_code == 413
    assert "10000 byte limit" in r.json()["detail"]
    assert bus.messages == []


def test_gzip_bomb_is_refused_before_inflating_it_all(client, world, bus, settings):
    settings.ingest_max_body_bytes = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = compressor.compress(b"\0" * (200 << 20)) + compressor.flush()
    assert len(bomb) < 1 << 20  # small on the wire, 200 MiB inflated
    r = client.post(
        "/api/v1/ingest/json_lines",
        content=bomb,
        headers={**_key(world, "a-ingest"), "Content-Encoding": "gzip"},
    )
    assert r.status_code == 413
    assert "inflated body" in r.json()["detail"]
    assert bus.messages == []


def test_damaged_gzip_and_broken_array_are_400(client, world, bus):
    headers = {**_key(world, "a-ingest"), "Content-Encoding": "gzip"}
    r = client.post("/api/v1/ingest/json_lines", content=b"\x1f\x8bnot gzip", headers=headers)
    assert r.status_code == 400
    r = client.post(
        "/api/v1/ingest/json_lines", content=b'[{"a": 1},', headers=_key(world, "a-ingest")
    )
    assert r.status_code == 400 and "JSON array" in r.json()["detail"]
    assert bus.messages == []


def test_keys_of_another_tenant_purpose_or_revoked_are_refused(client, world, bus, db):
    url = "/api/v1/ingest/json_lines"
    body = _ndjson(2)
    # the key decides the tenant; naming another tenant is refused
    r = client.post(url, content=body, headers=_key(world, "a-ingest"), params={"tenant": "x"})
    assert r.status_code == 403
    r = client.post(
        url,
        content=body,
        headers=_key(world, "a-ingest"),
        params={"tenant_id": world.tenant_b.id},
    )
    assert r.status_code == 403
    for purpose in ("a-api", "a-agent"):
        assert client.post(url, content=body, headers=_key(world, purpose)).status_code == 403
    assert client.post(url, content=body).status_code in (401, 403)  # no key (CSRF layer first)
    csrf = login(client, "cadmin-a")
    r = client.post(url, content=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403  # a person logged in is not an ingest client
    with db.session() as s:
        key = apikeys.get_api_key(s, key_id=world.keys["b-ingest"][0].id)
        apikeys.revoke_api_key(s, key=key)
    r = client.post(url, content=body, headers=_key(world, "b-ingest"))
    assert r.status_code == 401
    assert bus.messages == []
    # tenant B's valid key queues for tenant B only
    ok = client.post(
        url, content=body, headers=_key(world, "a-ingest"), params={"tenant": "tenant-a"}
    )
    assert ok.status_code == 200


def test_unknown_or_non_json_source_is_refused(client, world, bus):
    r = client.post("/api/v1/ingest/nope", content=_ndjson(1), headers=_key(world, "a-ingest"))
    assert r.status_code == 404 and "unknown source" in r.json()["detail"]
    r = client.post("/api/v1/ingest/syslog", content=_ndjson(1), headers=_key(world, "a-ingest"))
    assert r.status_code == 422
    r = client.post("/api/v1/ingest/a.b", content=_ndjson(1), headers=_key(world, "a-ingest"))
    assert r.status_code in (404, 422)
    assert bus.messages == []


def test_back_pressure_answers_429_or_503_with_retry_after(client, world, bus, app):
    url, body, headers = "/api/v1/ingest/json_lines", _ndjson(3), _key(world, "a-ingest")
    bus.full = True
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    bus.full = False
    bus.size_bytes = 900  # over the high-water mark (80 % of 1000)
    assert client.post(url, content=body, headers=headers).status_code == 429
    bus.size_bytes = 0
    bus.error = BusFull("spool full", retry_after=7.5)
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == 429 and r.headers["retry-after"] == "8"
    bus.error = BusError("spool write failed: disk full")
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    assert "disk full" in r.json()["detail"]
    app.state.bus = None
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == 503 and "retry-after" in r.headers
    assert bus.messages == []


# ---- search ---------------------------------------------------------------------------------


@pytest.fixture
def stored(db, world):
    a, b = world.tenant_a.id, world.tenant_b.id
    rows = [
        {
            "tenant_id": a,
            "event_id": f"a-{n}",
            "ts": T0 + timedelta(minutes=n),
            "host": "pc1" if n % 2 else "pc2",
            "source": "syslog" if n < 20 else "windows_json",
            "data_type": "x",
            "fields": {"EventID": 4625 if n % 5 == 0 else 4624, "user": f"u{n}"},
            "raw": f"<13>line {n} <script>alert(1)</script>",
        }
        for n in range(30)
    ]
    rows.append(
        {
            "tenant_id": b,
            "event_id": "b-1",
            "ts": T0,
            "host": "pc1",
            "source": "syslog",
            "fields": {"EventID": 4625},
            "raw": f"line {B_MARKER}",
        }
    )
    with db.session() as s:
        repo.insert_events(s, rows=rows)
        repo.insert_quarantined(
            s,
            rows=[
                {
                    "tenant_id": a,
                    "record_key": "qa",
                    "source": "syslog",
                    "reason": "invalid syslog priority <999>",
                    "raw": b"<999><b>bold</b>\xff\x00",
                },
                {"tenant_id": b, "record_key": "qb", "source": "syslog", "raw": B_MARKER.encode()},
            ],
        )
    return rows


def test_event_search_filters_and_pages(client, world, stored):
    h = _key(world, "a-api")
    r = client.get("/api/v1/events", headers=h, params={"limit": 12})
    body = r.json()
    assert r.status_code == 200 and len(body["items"]) == 12 and body["next_offset"] == 12
    assert body["items"][0]["event_id"] == "a-29"
    last = client.get("/api/v1/events", headers=h, params={"limit": 12, "offset": 24}).json()
    assert len(last["items"]) == 6 and last["next_offset"] is None
    got = client.get(
        "/api/v1/events",
        headers=h,
        params={
            "host": "pc1",
            "source": "syslog",
            "field": "EventID=4625",
            "start": (T0 + timedelta(minutes=1)).isoformat(),
            "end": (T0 + timedelta(minutes=16)).isoformat(),
        },
    ).json()["items"]
    assert sorted(e["event_id"] for e in got) == ["a-15", "a-5"]
    text = client.get("/api/v1/events", headers=h, params={"q": "LINE 7 "}).json()["items"]
    assert [e["event_id"] for e in text] == ["a-7"]
    # times without a zone are Japan time (UTC+9)
    jst = client.get(
        "/api/v1/events", headers=h, params={"start": "2026-11-25T10:25:00", "limit": 100}
    ).json()["items"]
    assert len(jst) == 5
    bad = client.get("/api/v1/events", headers=h, params={"field": "novalue"})
    assert bad.status_code == 422
    one = client.get(f"/api/v1/events/{got[0]['id']}", headers=h).json()
    assert one["fields"]["EventID"] == 4625 and one["raw"].startswith("<13>line")


def test_tenant_a_never_sees_tenant_b_events(client, world, stored):
    h = _key(world, "a-api")
    everything = client.get("/api/v1/events", headers=h, params={"limit": 1000}).text
    assert B_MARKER not in everything
    assert client.get("/api/v1/events", headers=h, params={"q": B_MARKER}).json()["items"] == []
    r = client.get("/api/v1/events", headers=h, params={"tenant_id": world.tenant_b.id})
    assert r.status_code == 404
    b_id = client.get(
        "/api/v1/events", headers=_key(world, "b-api"), params={"q": B_MARKER}
    ).json()["items"][0]["id"]
    assert client.get(f"/api/v1/events/{b_id}", headers=h).status_code == 404
    login(client, "viewer-a")
    assert client.get(f"/logs/{b_id}").status_code == 404
    assert B_MARKER not in client.get("/logs", params={"q": "line"}).text
    assert B_MARKER not in client.get("/logs/quarantine").text
    counts = client.get("/api/v1/log-quarantine/count", headers=h).json()
    assert counts == {"total": 1, "by_source": {"syslog": 1}}


def test_quarantine_api_keeps_the_bytes(client, world, stored):
    h = _key(world, "a-api")
    (item,) = client.get("/api/v1/log-quarantine", headers=h).json()["items"]
    assert item["reason"] == "invalid syslog priority <999>"
    assert item["raw"] == "<999><b>bold</b>\\xff\x00"
    assert item["size"] == 18
    import base64

    assert base64.b64decode(item["raw_b64"]) == b"<999><b>bold</b>\xff\x00"


def test_log_pages_render_escaped(client, world, stored):
    login(client, "cadmin-a")
    page = client.get("/logs", params={"fields": "EventID=4625", "host": "pc2"})
    assert page.status_code == 200
    assert "ログ" in page.text and "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert page.text.count('href="/logs/') >= 3  # a-0, a-10, a-20 + the quarantine link
    first = client.get("/logs")
    assert 'href="/logs?offset=50"' not in first.text  # 30 events: one page
    nav = first.text.split("</nav>")[0]
    assert 'href="/logs"' in nav  # the ログ entry in the navigation
    detail_id = client.get("/api/v1/events", headers=_key(world, "a-api")).json()["items"][0]["id"]
    detail = client.get(f"/logs/{detail_id}")
    assert detail.status_code == 200 and "EventID" in detail.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    quarantine = client.get("/logs/quarantine")
    assert quarantine.status_code == 200
    assert "&lt;b&gt;bold&lt;/b&gt;" in quarantine.text and "<b>bold</b>" not in quarantine.text
    assert "invalid syslog priority &lt;999&gt;" in quarantine.text
    bad = client.get("/logs", params={"start": "yesterday"})
    assert bad.status_code == 422
    csrf_of(client)


def test_lone_surrogate_escapes_in_an_array_are_accepted(client, world, bus):
    body = b'[{"user": "\\ud800"}, {"user": "ok"}]'
    r = client.post("/api/v1/ingest/json_lines", content=body, headers=_key(world, "a-ingest"))
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert [x["user"] for x in bus.raw_lines()] == ["\ud800", "ok"]


def test_dashboard_counts_recent_events_and_quarantine_of_the_viewer(client, world, db):
    import re

    now = datetime.now(UTC)
    a, b = world.tenant_a.id, world.tenant_b.id
    rows = [{"tenant_id": a, "event_id": f"a{i}", "ts": now - timedelta(hours=1)} for i in range(3)]
    rows += [{"tenant_id": a, "event_id": "old", "ts": now - timedelta(days=2)}]
    rows += [{"tenant_id": b, "event_id": f"b{i}", "ts": now} for i in range(5)]
    with db.session() as s:
        repo.insert_events(s, rows=rows)
        repo.insert_quarantined(s, rows=[{"tenant_id": a, "record_key": "q", "raw": b"x"}])

    def figure(html: str, key: str) -> str:
        match = re.search(rf'data-panel="{key}">.*?<a href="[^"]+">(\d+)</a>', html, re.S)
        assert match, key
        return match.group(1)

    login(client, "viewer-a")
    page = client.get("/").text
    assert "直近24時間のログ件数" in page
    assert figure(page, "events_24h") == "3" and figure(page, "quarantined") == "1"
    login(client, "root")
    page = client.get("/").text
    assert figure(page, "events_24h") == "8"
