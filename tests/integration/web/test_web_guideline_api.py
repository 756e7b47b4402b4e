"""The guideline JSON API: assessments, answers, score, roadmap, evidence, sheets, reports."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from foundation_db import login
from mamori.store.tables import AuditLog
from tests.integration.web.guideline_helpers import (
    API,
    PDF,
    answers_in,
    as_user,
    create,
    formulas_in,
    sheet_bytes,
)


def test_items_and_target_level(client, world):
    h = as_user(client, "viewer-a")
    items = client.get(f"{API}/items").json()
    assert items["framework"].startswith("jama-japia@")
    assert len(items["items"]) == 153 and len(items["labels"]) == 24
    assert sum(items["catalogue"].values()) == 153
    label1 = client.get(f"{API}/items", params={"label": 1}).json()["items"]
    assert label1 and all(i["label"] == 1 for i in label1)
    assert client.get(f"{API}/items", params={"framework": "nope"}).status_code == 422
    questions = client.get(f"{API}/target-level").json()["questions"]
    assert {q["id"] for q in questions} >= {"handles_confidential", "industry_leader"}
    r = client.post(f"{API}/target-level", json={"answers": {"industry_leader": True}}, headers=h)
    assert r.json()["level"] == 3
    r = client.post(f"{API}/target-level", json={"answers": {}}, headers=h)
    assert r.json()["level"] == 1
    r = client.post(f"{API}/target-level", json={"answers": {"bogus": True}}, headers=h)
    assert r.status_code == 422


def test_assessment_crud_answers_score_and_roadmap(client, world, db):
    h = as_user(client, "cadmin-a")
    a = create(client, h, title="2026年度", target_level=1)
    assert a["tenant_id"] == world.tenant_a.id and a["answered"] == 0 and a["items"] == 153
    listed = client.get(f"{API}/assessments").json()
    assert [x["id"] for x in listed] == [a["id"]]
    aid = a["id"]

    before = client.get(f"{API}/assessments/{aid}/score").json()
    assert set(before["rates_by_level"]) == {"1", "2", "3"}
    assert before["rates_by_level"]["1"] == 0
    assert before["notice"]

    lv1_items = [i["id"] for i in client.get(f"{API}/items").json()["items"] if i["level"] == 1]
    r = client.put(
        f"{API}/assessments/{aid}/answers/{lv1_items[0]}",
        json={
            "status": "対策完了",
            "comment": "規程あり",
            "owner": "総務",
            "due": "2026-12-31",
            "effort_days": 2,
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "対策完了" and body["owner"] == "総務" and body["due"] == "2026-12-31"
    assert body["answered_by"] == "cadmin-a"
    after = client.get(f"{API}/assessments/{aid}/score").json()
    assert after["rates_by_level"]["1"] > 0
    assert after["levels"]["1"]["achieved"] == 1

    # only the fields given change; status stays
    r = client.put(
        f"{API}/assessments/{aid}/answers/{lv1_items[0]}", json={"comment": "更新"}, headers=h
    )
    assert r.json()["status"] == "対策完了" and r.json()["comment"] == "更新"
    # partial is never achieved
    client.put(
        f"{API}/assessments/{aid}/answers/{lv1_items[1]}", json={"status": "一部対策"}, headers=h
    )
    score = client.get(f"{API}/assessments/{aid}/score").json()
    assert score["levels"]["1"]["achieved"] == 1 and score["levels"]["1"]["partial"] == 1

    # bad answers
    r = client.put(f"{API}/assessments/{aid}/answers/153", json={"status": "対象外"}, headers=h)
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    r = client.put(f"{API}/assessments/{aid}/answers/153", json={"status": "たぶん"}, headers=h)
    assert r.status_code == 422
    r = client.put(f"{API}/assessments/{aid}/answers/999", json={"status": "未対策"}, headers=h)
    assert r.status_code == 404
    r = client.put(f"{API}/assessments/{aid}/answers/153", json={"effort_days": -1}, headers=h)
    assert r.status_code == 422
    r = client.put(
        f"{API}/assessments/{aid}/answers/153",
        json={"status": "対象外", "reason": "該当業務なし"},
        headers=h,
    )
    assert r.status_code == 200

    detail = client.get(f"{API}/assessments/{aid}").json()
    assert detail["answered"] == 3 and detail["answers"]["153"]["reason"] == "該当業務なし"
    history = client.get(f"{API}/assessments/{aid}/history", params={"item": lv1_items[0]}).json()
    assert [h_["after"]["status"] for h_ in history] == ["対策完了", "対策完了"]

    roadmap = client.get(f"{API}/assessments/{aid}/roadmap").json()
    assert roadmap["target_level"] == 1
    open_items = [e["item"] for e in roadmap["entries"]]
    assert lv1_items[0] not in open_items and lv1_items[1] in open_items
    assert all(e["level"] == 1 for e in roadmap["entries"])

    items = client.get(f"{API}/assessments/{aid}/items", params={"label": 1}).json()
    assert len(items["labels"]) >= 24
    assert all(i["label"] == 1 for i in items["items"])

    r = client.patch(
        f"{API}/assessments/{aid}", json={"title": "改名", "target_level": 2}, headers=h
    )
    assert r.status_code == 200 and r.json()["target_level"] == 2 and r.json()["title"] == "改名"
    assert (
        client.patch(f"{API}/assessments/{aid}", json={"target_level": 7}, headers=h).status_code
        == 422
    )

    with db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditLog).order_by(AuditLog.seq))]
    assert "guideline.assessment.create" in actions
    assert actions.count("guideline.answer") >= 4
    assert "guideline.assessment.update" in actions

    r = client.delete(f"{API}/assessments/{aid}", headers=h)
    assert r.status_code == 204
    assert client.get(f"{API}/assessments/{aid}").status_code == 404


def test_viewers_and_api_keys_read_only(client, world):
    h = as_user(client, "cadmin-a")
    aid = create(client, h, title="閲覧テスト")["id"]
    hv = as_user(client, "viewer-a")
    assert client.get(f"{API}/assessments/{aid}").status_code == 200
    assert client.get(f"{API}/assessments/{aid}/score").status_code == 200
    r = client.put(f"{API}/assessments/{aid}/answers/1", json={"status": "未対策"}, headers=hv)
    assert r.status_code == 403
    assert client.post(f"{API}/assessments", json={}, headers=hv).status_code == 403
    r = client.post(
        f"{API}/assessments/{aid}/items/1/evidence?filename=a.pdf", content=PDF, headers=hv
    )
    assert r.status_code == 403
    assert client.delete(f"{API}/assessments/{aid}", headers=hv).status_code == 403
    client.cookies.clear()
    key = {"Authorization": f"Bearer {world.token('a-api')}"}
    assert client.get(f"{API}/assessments/{aid}/score", headers=key).status_code == 200
    r = client.put(f"{API}/assessments/{aid}/answers/1", json={"status": "未対策"}, headers=key)
    assert r.status_code == 403
    ingest = {"Authorization": f"Bearer {world.token('a-ingest')}"}
    assert client.get(f"{API}/assessments/{aid}", headers=ingest).status_code == 403
    # operators write for their tenants; an operator must say which tenant when they have several
    ho = as_user(client, "op-a")
    r = client.put(f"{API}/assessments/{aid}/answers/1", json={"status": "未対策"}, headers=ho)
    assert r.status_code == 200
    hr = as_user(client, "root")
    assert client.post(f"{API}/assessments", json={}, headers=hr).status_code == 422
    made = create(client, hr, tenant_id=world.tenant_a.id)
    assert made["tenant_id"] == world.tenant_a.id


def test_another_tenant_cannot_read_or_change_assessment_or_evidence(client, world):
    h = as_user(client, "cadmin-a")
    aid = create(client, h, title="A社")["id"]
    r = client.post(
        f"{API}/assessments/{aid}/items/1/evidence?filename=p.pdf", content=PDF, headers=h
    )
    assert r.status_code == 201
    sha = r.json()["sha256"]
    assert client.get(f"{API}/assessments/{aid}/evidence/{sha}").content == PDF
    for user in ("cadmin-zzbmarker", "viewer-zzbmarker", "op-zzbmarker"):
        hb = as_user(client, user)
        for path in (
            "",
            "/score",
            "/roadmap",
            "/items",
            "/history",
            f"/evidence/{sha}",
            "/report",
            "/checksheet",
        ):
            r = client.get(f"{API}/assessments/{aid}{path}")
            assert r.status_code == 404, (user, path, r.status_code)
            assert "A社" not in r.text
        r = client.put(f"{API}/assessments/{aid}/answers/1", json={"status": "未対策"}, headers=hb)
        assert r.status_code == 404
        r = client.post(
            f"{API}/assessments/{aid}/items/1/evidence?filename=x.pdf", content=PDF, headers=hb
        )
        assert r.status_code == 404
        assert client.delete(f"{API}/assessments/{aid}", headers=hb).status_code == 404
        assert client.get(f"{API}/assessments").json() == []
        assert (
            client.get(f"{API}/assessments", params={"tenant_id": world.tenant_a.id}).status_code
            == 404
        )
    client.cookies.clear()
    key_b = {"Authorization": f"Bearer {world.token('b-api')}"}
    assert client.get(f"{API}/assessments/{aid}", headers=key_b).status_code == 404
    assert client.get(f"{API}/assessments/{aid}/evidence/{sha}", headers=key_b).status_code == 404
    # the same bytes uploaded by tenant B are B's own copy; A's link still needs A's scope
    hb = as_user(client, "cadmin-zzbmarker")
    bid = create(client, hb)["id"]
    assert client.get(f"{API}/assessments/{bid}/evidence/{sha}").status_code == 404
    r = client.get(f"{API}/assessments/{bid}/compare", params={"with": aid})
    assert r.status_code == 404


def test_evidence_upload_limits_and_types(client, app, world, db):
    app.state.settings.guideline_max_evidence_bytes = 1024
    h = as_user(client, "cadmin-a")
    aid = create(client, h)["id"]
    url = f"{API}/assessments/{aid}/items/5/evidence"
    small = b"%PDF-1.4\n" + b"1" * 100
    r = client.post(url, files={"file": ("規程.pdf", small, "application/pdf")}, headers=h)
    assert r.status_code == 201, r.text
    ref = r.json()
    assert ref["sha256"] == hashlib.sha256(small).hexdigest() and ref["size"] == len(small)
    assert ref["media_type"] == "application/pdf" and ref["filename"] == "規程.pdf"
    dl = client.get(f"{API}/assessments/{aid}/evidence/{ref['sha256']}")
    assert dl.content == small and "attachment" in dl.headers["content-disposition"]

    big = b"%PDF-1.4\n" + b"x" * 2000
    r = client.post(url, files={"file": ("big.pdf", big, "application/pdf")}, headers=h)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = client.post(f"{url}?filename=big.pdf", content=big, headers=h)
    assert r.status_code == 413
    r = client.post(url, files={"file": ("tool.exe", b"MZ\x90\x00" + b"\x00" * 50)}, headers=h)
    assert r.status_code == 415 and "not accepted" in r.json()["detail"]
    r = client.post(
        url, files={"file": ("page.html", b"<html><script>x</script></html>")}, headers=h
    )
    assert r.status_code == 415
    r = client.post(url, files={"file": ("looks.png", small)}, headers=h)
    assert r.status_code == 422 and "does not match" in r.json()["detail"]
    r = client.post(url, files={"file": ("empty.pdf", b"")}, headers=h)
    assert r.status_code == 422
    r = client.post(url, data={"note": "no file"}, headers=h)
    assert r.status_code == 422
    r = client.post(
        f"{API}/assessments/{aid}/items/999/evidence?filename=a.pdf", content=small, headers=h
    )
    assert r.status_code == 404
    assert client.get(f"{API}/assessments/{aid}/evidence/{'0' * 64}").status_code == 404
    detail = client.get(f"{API}/assessments/{aid}").json()
    assert [e["sha256"] for e in detail["answers"]["5"]["evidence"]] == [ref["sha256"]]
    with db.session() as s:
        uploads = list(
            s.scalars(select(AuditLog).where(AuditLog.action == "guideline.evidence.upload"))
        )
    assert len(uploads) == 1 and uploads[0].detail["sha256"] == ref["sha256"]


def test_checksheet_import_export_compare_and_report(client, world, db):
    h = as_user(client, "cadmin-a")
    first = create(client, h, title="前回")["id"]
    client.put(f"{API}/assessments/{first}/answers/1", json={"status": "未対策"}, headers=h)
    aid = create(client, h, title="今回")["id"]
    client.put(f"{API}/assessments/{aid}/answers/3", json={"status": "一部対策"}, headers=h)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = sheet_bytes({1: "対策完了", 2: "未対策"})
    r = client.post(
        f"{API}/assessments/{aid}/checksheet",
        files={"file": ("チェックシート.xlsx", sheet, xlsx)},
        headers=h,
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["changed"] == 2 and result["kept"] == 1 and result["verified_items"] == 6
    detail = client.get(f"{API}/assessments/{aid}").json()
    assert detail["catalogue"]["verified"] == 6
    assert detail["answers"]["1"]["status"] == "対策完了"
    assert detail["answers"]["3"]["status"] == "一部対策"  # kept
    items = client.get(f"{API}/assessments/{aid}/items", params={"label": 1}).json()["items"]
    assert items[0]["text"] == "要求事項1（公式）" and items[0]["provenance"] == "verified"

    client.put(f"{API}/assessments/{aid}/answers/2", json={"status": "対策完了"}, headers=h)
    exported = client.get(f"{API}/assessments/{aid}/checksheet")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith(xlsx)
    written = answers_in(exported.content)
    assert formulas_in(exported.content) == formulas_in(sheet)  # formulas left untouched
    assert written[1] == "対策完了" and written[2] == "対策完了" and written[3] == "一部対策"
    # export into a workbook sent with the request (nothing stored)
    r = client.post(
        f"{API}/assessments/{aid}/checksheet/export",
        files={"file": ("blank.xlsx", sheet_bytes({}), xlsx)},
        headers=h,
    )
    assert r.status_code == 200 and answers_in(r.content)[2] == "対策完了"
    assert client.get(f"{API}/assessments/{first}/checksheet").status_code == 404

    # bad sheets
    r = client.post(
        f"{API}/assessments/{aid}/checksheet",
        files={"file": ("x.xlsx", sheet_bytes({}, header=False), xlsx)},
        headers=h,
    )
    assert r.status_code == 422 and "header" in r.json()["detail"].lower()
    r = client.post(
        f"{API}/assessments/{aid}/checksheet",
        files={"file": ("x.xlsx", sheet_bytes({1: "たぶん"}), xlsx)},
        headers=h,
    )
    assert r.status_code == 422 and "たぶん" in r.json()["detail"]
    r = client.post(
        f"{API}/assessments/{aid}/checksheet",
        files={"file": ("x.pdf", PDF, "application/pdf")},
        headers=h,
    )
    assert r.status_code == 415
    r = client.post(
        f"{API}/assessments/{aid}/checksheet?mapping=bogus=1",
        files={"file": ("x.xlsx", sheet, xlsx)},
        headers=h,
    )
    assert r.status_code == 422
    # explicit mapping when the headings are not recognisable
    r = client.post(
        f"{API}/assessments/{aid}/checksheet",
        params={
            "mapping": [
                "sheet=チェックシート",
                "header=3",
                "no=A",
                "label=B",
                "requirement=C",
                "condition=D",
                "level=E",
                "answer=F",
            ]
        },
        files={"file": ("x.xlsx", sheet_bytes({4: "対策完了"}), xlsx)},
        headers=h,
    )
    assert r.status_code == 200, r.text

    cmp_ = client.get(f"{API}/assessments/{aid}/compare").json()
    assert cmp_["earlier"] == first
    assert {c["item"] for c in cmp_["improved"]} >= {"1"}
    assert client.get(f"{API}/assessments/{first}/compare").status_code == 422

    html = client.get(f"{API}/assessments/{aid}/report")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert "今回" in html.text and "<svg" in html.text
    assert "Lv1" in html.text
    csp = html.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in csp and "script-src" not in csp
    en = client.get(f"{API}/assessments/{aid}/report", params={"lang": "en"})
    assert en.status_code == 200 and 'lang="en"' in en.text
    pdf = client.get(f"{API}/assessments/{aid}/report", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (
        client.get(f"{API}/assessments/{aid}/report", params={"format": "doc"}).status_code == 422
    )

    with db.session() as s:
        imports = list(
            s.scalars(select(AuditLog).where(AuditLog.action == "guideline.checksheet.import"))
        )
    assert len(imports) == 2 and imports[0].detail["changed"] == 2


def test_anonymous_is_refused(client, world):
    login(client, "cadmin-a")
    client.cookies.clear()
    assert client.get(f"{API}/assessments").status_code == 401
    assert client.get(f"{API}/items").status_code == 401


def test_automatic_checks_are_kept_apart_and_flag_contradictions(client, world, db):
    h = as_user(client, "cadmin-a")
    aid = create(client, h)["id"]
    client.put(f"{API}/assessments/{aid}/answers/143", json={"status": "対策完了"}, headers=h)
    # customers may run the checks on what the platform knows, but not type in observations
    r = client.post(f"{API}/assessments/{aid}/checks", json={"retention_days": 999}, headers=h)
    assert r.status_code == 403
    r = client.post(f"{API}/assessments/{aid}/checks", headers=h)
    assert r.status_code == 200, r.text
    result = r.json()
    # the tenant's retention is known, but mamori has seen no logs for it yet
    assert result["checks"]["143"]["passed"] is False
    retention = world.tenant_a.retention_days
    assert result["checks"]["143"]["evidence"]["investigation_logs"]["retention_days"] == retention
    assert result["contradicted"] == ["143"]
    detail = client.get(f"{API}/assessments/{aid}").json()
    assert detail["answers"]["143"]["status"] == "対策完了"  # the declared answer is untouched
    assert detail["checks"]["143"]["contradicted"] is True
    score = client.get(f"{API}/assessments/{aid}/score").json()
    assert score["contradicted_items"] == ["143"]

    # staff may add what other collectors observed
    ho = as_user(client, "op-a")
    now = "2026-11-25T10:00:00+00:00"
    observed = {
        "at": now,
        "log_sources": [
            {"name": n, "category": c, "last_seen": now}
            for n, c in (
                ("win", "endpoint"),
                ("srv", "server"),
                ("fw", "firewall"),
                ("proxy", "proxy"),
                ("mail", "mail"),
                ("auth", "auth"),
            )
        ],
    }
    r = client.post(f"{API}/assessments/{aid}/checks", json=observed, headers=ho)
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["143"]["passed"] is True and r.json()["contradicted"] == []
    r = client.post(f"{API}/assessments/{aid}/checks", json={"tenant": "zzbmarker-b"}, headers=ho)
    assert r.status_code == 422
    r = client.post(f"{API}/assessments/{aid}/checks", json={"retention_days": -1}, headers=ho)
    assert r.status_code == 422
    with db.session() as s:
        runs = list(s.scalars(select(AuditLog).where(AuditLog.action == "guideline.checks.run")))
    assert len(runs) == 2


def test_log_sources_the_store_has_seen_pass_the_investigation_logs_check(client, world, db):
    """No.143 from what mamori really received: an endpoint and a firewall log, recently."""
    from datetime import UTC, datetime, timedelta

    from mamori.store.repos import ingest

    now = datetime.now(UTC)
    rows = [
        {
            "tenant_id": world.tenant_a.id,
            "event_id": f"{source}-{i}",
            "ts": now - timedelta(minutes=i),
            "host": f"{source}-host",
            "source": source,
            "data_type": data_type,
            "fields": {},
            "raw": f"{source} {i}",
        }
        for source, data_type in (("evtx", "windows:evtx"), ("netfilter", "firewall:netfilter"))
        for i in range(3)
    ]
    # tenant B's logs must not count for tenant A
    rows.append({**rows[0], "tenant_id": world.tenant_b.id, "event_id": "b-only"})
    with db.session() as session:
        ingest.insert_events(session, rows=rows)
        session.commit()
    h = as_user(client, "cadmin-a")
    aid = create(client, h)["id"]
    client.put(f"{API}/assessments/{aid}/answers/143", json={"status": "対策完了"}, headers=h)
    result = client.post(f"{API}/assessments/{aid}/checks", headers=h).json()
    check = result["checks"]["143"]
    assert check["passed"] is True, check
    live = check["evidence"]["investigation_logs"]["live_sources"]
    assert sorted(s["name"] for s in live) == ["evtx", "netfilter"]
    assert {s["name"]: s["events"] for s in live} == {"evtx": 3, "netfilter": 3}
    assert result["contradicted"] == []
