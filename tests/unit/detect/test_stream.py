"""Streaming detection on the embedded bus: events in, alerts out, acks after publish."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori.bus.base import BusFull, Message
from mamori.bus.embedded import EmbeddedBus
from mamori.bus.subjects import ALERTS_ALL, events_subject
from mamori.detect.engine import SigmaEngine
from mamori.detect.stream import (
    DETECT_DURABLE,
    DetectionConsumer,
    alert_msg_id,
    load_stream_rules,
)
from mamori.model import Alert, Event, Severity, event_id_for

SECURITY = "Security"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BRUTE_FORCE = "24d8d391-9aff-4075-8513-3e4d774ab822"
DUMP_TOOLS = "28ad53a7-7d53-413a-9a27-f97149c5f9a2"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory):
    return load_stream_rules([], cache_dir=tmp_path_factory.mktemp("rules-cache"))


def win_event(
    fields: dict[str, Any], *, tenant: str = "acme", ts: datetime = T0, n: int = 0
) -> Event:
    return Event(
        fields=fields,
        timestamp=ts,
        source="evtx",
        raw=json.dumps({**fields, "n": n}),
        data_type="windows:evtx",
        tenant=tenant,
        host=str(fields.get("Computer") or "pc-01"),
    )


def failed_logon(n: int, *, tenant: str = "acme", ip: str = "203.0.113.7", user: str = "admin"):
    return win_event(
        {
            "Channel": SECURITY,
            "EventID": 4625,
            "Computer": "dc-01",
            "IpAddress": ip,
            "TargetUserName": user,
        },
        tenant=tenant,
        ts=T0 + timedelta(seconds=10 * n),
        n=n,
    )


def dumping(n: int = 0, *, tenant: str = "acme") -> Event:
    return win_event(
        {
            "Channel": SYSMON,
            "EventID": 1,
            "Computer": "pc-07",
            "Image": "C:\\Windows\\System32\\rundll32.exe",
            "CommandLine": "rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 624 x full",
        },
        tenant=tenant,
        n=n,
    )


def benign(n: int = 0) -> Event:
    return win_event(
        {"Channel": SYSMON, "EventID": 1, "Image": "C:\\Windows\\notepad.exe", "CommandLine": "x"},
        n=n,
    )


async def publish(bus, events: Sequence[Event]) -> None:
    await bus.publish_many(
        [Message(events_subject(e.tenant, e.source), e.to_json().encode(), e.id) for e in events]
    )


async def received(bus, durable: str = "test-alerts") -> list[tuple[str, str, dict[str, Any]]]:
    sub = await bus.subscribe(ALERTS_ALL, durable)
    out = []
    while batch := await sub.fetch(500, timeout=0.2):
        for d in batch:
            out.append((d.message.subject, d.message.msg_id, json.loads(d.message.data)))
            await d.ack()
    await sub.close()
    return out


def consumer(bus, ruleset, **kw: Any) -> DetectionConsumer:
    return DetectionConsumer(bus, SigmaEngine(ruleset), retry_delay=0.05, **kw)


async def test_events_become_alerts_on_the_tenant_subject(tmp_path: Path, bundled) -> None:
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled)
        await publish(bus, [benign(1), dumping(2, tenant="globex"), benign(3)])
        assert await det.drain() == 3
        alerts = await received(bus)
        assert [(s, a["rule_id"]) for s, _, a in alerts] == [("mamori.alerts.globex", DUMP_TOOLS)]
        subject, msg_id, data = alerts[0]
        alert = Alert.from_dict(data)
        assert alert.tenant == "globex"
        assert alert.level is Severity.HIGH
        assert "CommandLine" in alert.matched
        assert alert.event["event_id"] == dumping(2, tenant="globex").id
        assert msg_id == alert_msg_id(alert)
        assert det.stats.events == 3 and det.stats.alerts == 1


async def test_brute_force_correlation_fires_over_several_events(tmp_path: Path, bundled) -> None:
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled, batch_size=3)  # the events arrive over several batches
        await publish(bus, [failed_logon(i) for i in range(12)])
        assert await det.drain() == 12
        alerts = await received(bus)
        brute = [a for _, _, a in alerts if a["rule_id"] == BRUTE_FORCE]
        assert len(brute) == 1
        assert brute[0]["level"] == "high"
        assert brute[0]["matched"]["count"] == 10
        assert brute[0]["matched"]["IpAddress"] == "203.0.113.7"
        assert len(brute[0]["events"]) == 10
        assert brute[0]["tenant"] == "acme"


async def test_correlation_never_adds_up_two_tenants(tmp_path: Path, bundled) -> None:
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled)
        events = [failed_logon(i, tenant="acme") for i in range(6)]
        events += [failed_logon(i, tenant="globex") for i in range(6)]
        await publish(bus, events)
        await det.drain()
        assert not [a for _, _, a in await received(bus) if a["rule_id"] == BRUTE_FORCE]


async def test_unacked_events_survive_a_restart(tmp_path: Path, bundled) -> None:
    spool = tmp_path / "spool"
    async with EmbeddedBus(spool, fsync="always") as bus:
        await publish(bus, [dumping(1), benign(2)])
        sub = await bus.subscribe("mamori.events.>", DETECT_DURABLE)
        got = await sub.fetch(10, timeout=1)  # taken, never acked: then the process "dies"
        assert len(got) == 2
    async with EmbeddedBus(spool, fsync="always") as bus:
        det = consumer(bus, bundled)
        assert await det.drain() == 2
        assert [a["rule_id"] for _, _, a in await received(bus)] == [DUMP_TOOLS]
        assert await det.drain() == 0  # acked now: nothing comes back


class _RefusingBus:
    """Delegates to a real bus but refuses to publish while ``refuse`` is set."""

    def __init__(self, bus: EmbeddedBus) -> None:
        self.bus = bus
        self.refuse = True
        self.attempts = 0

    async def publish_many(self, messages: Sequence[Message]) -> None:
        self.attempts += 1
        if self.refuse:
            raise BusFull(retry_after=0.01)
        await self.bus.publish_many(messages)

    async def subscribe(self, *args: Any, **kw: Any):
        return await self.bus.subscribe(*args, **kw)


async def test_no_ack_before_the_alerts_are_published(tmp_path: Path, bundled) -> None:
    spool = tmp_path / "spool"
    async with EmbeddedBus(spool, fsync="always") as real:
        await publish(real, [dumping(1)])
        flaky = _RefusingBus(real)
        det = consumer(flaky, bundled)  # type: ignore[arg-type]
        await det.start()
        for _ in range(200):
            if flaky.attempts >= 2:
                break
            await asyncio.sleep(0.02)
        assert det.stats.publish_failures >= 2
        await det.stop()  # stopped while the bus refuses: the event is handed back
        assert await received(real) == []
        det2 = consumer(real, bundled)
        assert await det2.drain() == 1
        assert [a["rule_id"] for _, _, a in await received(real, "again")] == [DUMP_TOOLS]


async def test_retried_publish_then_ack(tmp_path: Path, bundled) -> None:
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as real:
        await publish(real, [dumping(1)])
        flaky = _RefusingBus(real)
        det = consumer(flaky, bundled)  # type: ignore[arg-type]
        task = asyncio.create_task(det.run_once(timeout=1))
        while flaky.attempts < 2:
            await asyncio.sleep(0.01)
        flaky.refuse = False
        assert await task == 1
        assert [a["rule_id"] for _, _, a in await received(real)] == [DUMP_TOOLS]
        assert await consumer(real, bundled).drain() == 0  # it was acked


async def test_replayed_event_ids_alert_once_and_bad_messages_are_skipped(
    tmp_path: Path, bundled, caplog: pytest.LogCaptureFixture
) -> None:
    event = dumping(1)
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled)
        subject = events_subject("acme", "evtx")
        await bus.publish_many(
            [
                Message(subject, event.to_json().encode(), "m1"),
                Message(subject, b"\xff not json", "m2"),
                Message(subject, b"[1, 2]", "m3"),
                Message(subject, event.to_json().encode(), "m4"),  # replay under another id
            ]
        )
        with caplog.at_level(logging.WARNING, logger="mamori.detect.stream"):
            assert await det.drain() == 4
        await publish(bus, [benign(5)])
        await det.drain()
        assert [a["rule_id"] for _, _, a in await received(bus)] == [DUMP_TOOLS]
        assert det.stats.bad == 2
        assert det.stats.duplicates == 1
        assert det.stats.events == 2
        assert "unreadable event" in caplog.text


async def test_tenant_comes_from_the_subject_when_the_event_has_none(
    tmp_path: Path, bundled
) -> None:
    event = dumping(1)
    event.tenant = None
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled)
        await bus.publish(events_subject("initech", "evtx"), event.to_json().encode(), msg_id="x")
        await det.drain()
        assert [s for s, _, _ in await received(bus)] == ["mamori.alerts.initech"]


async def test_expired_correlation_windows_are_swept(tmp_path: Path, bundled) -> None:
    now = [T0]
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled, clock=lambda: now[0], lateness=60)
        await publish(bus, [failed_logon(i) for i in range(4)])
        await det.drain()
        correlator = det.engine.correlator
        assert correlator.group_count() > 0
        now[0] = T0 + timedelta(minutes=3)
        det.sweep()
        assert correlator.group_count() > 0  # the windows are still open
        now[0] = T0 + timedelta(minutes=12)  # past the longest window (10 min) + lateness
        det.sweep()
        assert correlator.group_count() == 0
        assert correlator.stats.groups_expired > 0


class _Delivery:
    def __init__(self, event: Event) -> None:
        self.message = Message(events_subject(event.tenant, "evtx"), event.to_json().encode(), "m")


def test_watermark_follows_event_time_and_wall_clock(bundled) -> None:
    wall = [datetime(2030, 1, 1, tzinfo=UTC)]
    det = DetectionConsumer(object(), SigmaEngine(bundled), clock=lambda: wall[0])  # type: ignore[arg-type]
    assert det.watermark() == wall[0]  # nothing seen yet: the wall clock
    det._match([_Delivery(benign(1))])  # noqa: SLF001 - an old event (replayed logs)
    assert det.watermark() == T0
    wall[0] += timedelta(minutes=2)  # idle: event time moves on with the wall clock
    assert det.watermark() == T0 + timedelta(minutes=2)
    det._match([_Delivery(failed_logon(1))])  # noqa: SLF001 - a later event time
    assert det.watermark() == T0 + timedelta(seconds=10)


def test_a_batch_engine_is_refused(bundled) -> None:
    with pytest.raises(ValueError, match="streaming"):
        DetectionConsumer(object(), SigmaEngine(bundled, defer_correlation=True))  # type: ignore[arg-type]


def test_alert_ids_are_stable_and_distinct() -> None:
    a = Alert(
        rule_id="r1",
        rule_title="t",
        level=Severity.HIGH,
        timestamp=T0,
        tenant="acme",
        event={"event_id": "e1"},
    )
    same = Alert.from_dict(json.loads(json.dumps(a.to_dict(), default=str)))
    other = Alert(
        rule_id="r1",
        rule_title="t",
        level=a.level,
        timestamp=T0,
        tenant="acme",
        event={"event_id": "e2"},
    )
    assert alert_msg_id(a) == alert_msg_id(same) != alert_msg_id(other)
    assert alert_msg_id(a) == event_id_for("alert", "r1", "acme", "e1")


def test_broken_rule_folders_are_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.yml").write_text("title: [unclosed\n", encoding="utf-8")
    (broken / "unknown_modifier.yml").write_text(
        "title: x\nid: 6f0a3e4e-0000-4000-8000-00000000000a\nlogsource:\n  product: windows\n"
        "  category: process_creation\ndetection:\n  sel:\n    Image|nosuchmod: a\n"
        "  condition: sel\n",
        encoding="utf-8",
    )
    good = tmp_path / "good"
    good.mkdir()
    (good / "r.yml").write_text(
        "title: Custom\nid: 6f0a3e4e-0000-4000-8000-00000000000b\nlogsource:\n"
        "  product: windows\n  category: process_creation\ndetection:\n  sel:\n"
        "    Image|endswith: '\\evil.exe'\n  condition: sel\nlevel: high\n",
        encoding="utf-8",
    )
    a_file = tmp_path / "not-a-dir"
    a_file.write_bytes(b"\x00\x01")
    with caplog.at_level(logging.INFO, logger="mamori.detect.stream"):
        ruleset = load_stream_rules(
            [tmp_path / "missing", broken, good], cache_dir=tmp_path / "cache"
        )
    titles = {r.title for r in ruleset.rules}
    assert "Custom" in titles
    assert any("ブルートフォース" in c.title for c in ruleset.correlations)  # bundled still there
    assert "missing does not exist; skipped" in caplog.text
    assert "rule skipped" in caplog.text
    assert len(ruleset.problems) == 2


def test_stream_rules_take_placeholder_values(tmp_path, caplog):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "admins.yml").write_text(
        "title: Admin process\nid: 6f0a3e4e-0000-4000-8000-00000000000c\nlogsource:\n"
        "  product: windows\n  category: process_creation\ndetection:\n  sel:\n"
        "    User|expand: '%admins%'\n  condition: sel\nlevel: high\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="mamori.detect.stream"):
        refused = load_stream_rules([folder], cache_dir=tmp_path / "cache")
    assert "Admin process" not in {r.title for r in refused.rules}
    assert "%admins% has no value" in caplog.text
    ruleset = load_stream_rules(
        [folder], cache_dir=tmp_path / "cache", placeholders={"admins": ["root"]}
    )
    assert "Admin process" in {r.title for r in ruleset.rules}
    assert not ruleset.problems


async def test_open_correlation_windows_survive_a_restart(tmp_path: Path, bundled) -> None:
    state = tmp_path / "state" / "detect-correlation.json"
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled, state_path=state)
        await det.start()
        await publish(bus, [failed_logon(i) for i in range(6)])
        for _ in range(200):
            if det.stats.events == 6:
                break
            await asyncio.sleep(0.02)
        await det.stop()
        assert state.exists()
        det2 = consumer(bus, bundled, state_path=state)
        await det2.start()
        assert not state.exists()  # taken: a second worker would not count these again
        await publish(bus, [failed_logon(i) for i in range(6, 10)])
        for _ in range(200):
            if det2.stats.events == 4:
                break
            await asyncio.sleep(0.02)
        await det2.stop()
        brute = [a for _, _, a in await received(bus) if a["rule_id"] == BRUTE_FORCE]
        assert len(brute) == 1 and brute[0]["matched"]["count"] == 10


async def test_without_a_state_path_a_restart_starts_afresh(tmp_path: Path, bundled) -> None:
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        det = consumer(bus, bundled)
        await publish(bus, [failed_logon(i) for i in range(6)])
        await det.drain()
        det2 = consumer(bus, bundled)
        await publish(bus, [failed_logon(i) for i in range(6, 10)])
        await det2.drain()
        assert not [a for _, _, a in await received(bus) if a["rule_id"] == BRUTE_FORCE]


def test_a_broken_state_file_is_logged_and_dropped(tmp_path: Path, bundled, caplog) -> None:
    state = tmp_path / "detect-correlation.json"
    state.write_text("{not json")
    det = DetectionConsumer(None, SigmaEngine(bundled), state_path=state)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="mamori.detect.stream"):
        assert det.restore_state() == 0
    assert "dropped" in caplog.text
    assert not state.exists()
    assert det.restore_state() == 0  # no file: nothing to do


async def test_a_batch_handed_back_leaves_no_state(tmp_path: Path, bundled) -> None:
    state = tmp_path / "detect-correlation.json"
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as real:
        # the failed logons open a brute-force window; the dumping alert cannot be published
        await publish(real, [failed_logon(0), failed_logon(1), dumping(2)])
        flaky = _RefusingBus(real)
        det = consumer(flaky, bundled, state_path=state)  # type: ignore[arg-type]
        await det.start()
        for _ in range(200):
            if flaky.attempts >= 2:
                break
            await asyncio.sleep(0.02)
        assert det.engine.correlator.group_count() > 0
        await det.stop()  # the batch goes back: its matches would count twice
        assert not state.exists()
