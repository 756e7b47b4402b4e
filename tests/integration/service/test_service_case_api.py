"""The onboarding case JSON API: read a case and advance it, operators only."""

from __future__ import annotations

import base64
from datetime import date, timedelta

import pytest

from foundation_db import login
from mamori.store.repos import audit
from mamori.store.repos import service as repo
from mamori.store.tables import AuditLog, OnboardingCaseRow
from tests.integration.service.helpers import filled_sheet, open_case, store_assessment

API = "/api/v1/service/cases"
TODAY = date.today()
MEETING = {
    "held_on": TODAY.isoformat(),
    "attendees": ["佐藤", "op-a"],
    "notes": "UTMを含めて提案",
    "devices": 12,
    "network_size": "none",
}
CONTRACT = {
    "signed_on": TODAY.isoformat(),
    "start_date": (TODAY + timedelta(days=7)).isoformat(),
    "devices": 12,
}
PROVISION = {
    "tenant_slug": "mirai-seiki",
    "tenant_name": "株式会社みらい精機",
    "admin_username": "mirai-admin",
    "admin_email": "sato@mirai.example.jp",
}
STEPS = [
    ("meeting", MEETING),
    ("proposal", {}),
    ("quote", {"months": 12}),
    ("contract", CONTRACT),
    ("provision", PROVISION),
    ("cancel", {"reason": "辞退"}),
]


def _post(client, token, path, body):
    return client.post(path, json=body, headers={"X-CSRF-Token": token})


def _audit_count(db) -> int:
    with db.sessionmaker() as s:
        return s.query(AuditLog).count()


def test_an_operator_takes_a_case_from_inquiry_to_a_tenant(client, db, world):
    assessment = store_assessment(db, world.tenant_a, {"103": "未対策", "1": "一部対策"})
    case_id = open_case(db, company="株式会社みらい精機")
    token = login(client, "op-a")
    case = client.get(f"{API}/{case_id}").json()
    assert case["stage"] == "inquiry" and case["next_steps"] == ["meeting", "cancel"]
    assert [h["action"] for h in case["history"]] == ["onboarding.inquiry"]

    r = _post(client, token, f"{API}/{case_id}/meeting", {**MEETING, "assessment_id": assessment})
    assert r.status_code == 200, r.text
    assert r.json()["meeting"]["gaps"] == [1, 103]
    assert r.json()["meeting"]["gap_set"]["gaps"][1]["label_name"]["ja"] == "通信制御"

    r = _post(client, token, f"{API}/{case_id}/proposal", {})
    assert r.status_code == 200, r.text
    proposal = r.json()["proposal"]
    assert proposal["course"] == "small-network"
    assert any("通信制御" in reason["ja"] for reason in proposal["reasons"])

    r = _post(client, token, f"{API}/{case_id}/quote", {"months": 12, "subsidy_year": 2025})
    assert r.status_code == 200, r.text
    quote_id = r.json()["quote_id"]
    assert client.get(f"/api/v1/service/quotes/{quote_id}").json()["devices"] == 12

    r = _post(client, token, f"{API}/{case_id}/contract", CONTRACT)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "contract" and r.json()["contract_id"]

    r = _post(client, token, f"{API}/{case_id}/provision", PROVISION)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["created"] is True and created["tenant_slug"] == "mirai-seiki"
    assert created["case"]["stage"] == "provisioned"
    password = created["initial_password"]
    again = _post(client, token, f"{API}/{case_id}/provision", PROVISION).json()
    assert again["created"] is False and again["initial_password"] is None
    assert again["tenant_id"] == created["tenant_id"]

    final = client.get(f"{API}/{case_id}").json()
    assert final["next_steps"] == []
    assert [h["action"] for h in final["history"]] == [
        "onboarding.inquiry",
        "onboarding.meeting",
        "onboarding.proposal",
        "onboarding.quote",
        "onboarding.contract",
        "onboarding.provisioning",
        "onboarding.provisioned",
    ]
    assert all(h["actor"] in ("test", "op-a") for h in final["history"])
    with db.sessionmaker() as s:
        assert audit.verify(s).ok
    login(client, "mirai-admin", password)
    assert client.get("/api/v1/me").status_code == 200


def test_steps_keep_the_pages_validation_and_change_nothing_when_refused(client, db, world):
    case_id = open_case(db)
    token = login(client, "op-a")
    before = _audit_count(db)
    cases = [
        ("contract", CONTRACT, 422, "cannot sign a contract at stage 'inquiry'"),
        ("proposal", {}, 422, "cannot propose"),
        ("meeting", {**MEETING, "devices": 0}, 422, "at least 1"),
        ("meeting", {**MEETING, "devices": "12"}, 422, None),  # strict JSON types
        ("meeting", {**MEETING, "gaps": [154]}, 422, "not guideline item numbers"),
        ("meeting", {**MEETING, "gaps": [103], "assessment_id": "x"}, 422, "at most one"),
        ("meeting", {**MEETING, "checksheet_base64": "@@not base64@@"}, 422, "not valid base64"),
        ("meeting", {**MEETING, "checksheet_base64": ""}, 422, None),  # an empty file
        ("meeting", {**MEETING, "assessment_id": "nope"}, 404, "not found"),
        ("meeting", {**MEETING, "network_size": "huge"}, 422, None),
        ("meeting", {**MEETING, "surprise": 1}, 422, None),  # unknown fields refused
        ("meeting", {**MEETING, "held_on": (TODAY + timedelta(days=3)).isoformat()}, 422, None),
        ("cancel", {"reason": ""}, 422, None),
    ]
    for step, body, status, message in cases:
        r = _post(client, token, f"{API}/{case_id}/{step}", body)
        assert r.status_code == status, (step, body, r.text)
        if message:
            assert message in str(r.json()["detail"]), r.text
    with db.sessionmaker() as s:
        row = s.get(OnboardingCaseRow, case_id)
        assert row.stage == "inquiry" and row.meeting is None
    assert _audit_count(db) == before
    r = _post(client, token, f"{API}/{case_id}/meeting", MEETING)
    assert r.status_code == 200
    r = _post(client, token, f"{API}/{case_id}/proposal", {"course": "network"})
    assert r.status_code == 422 and "needs a reason" in r.json()["detail"]
    r = _post(
        client, token, f"{API}/{case_id}/proposal", {"course": "gold", "override_reason": "x"}
    )
    assert r.status_code == 422 and "gold" in r.json()["detail"]


@pytest.mark.parametrize("user", ["cadmin-a", "viewer-a", "cadmin-zzbmarker"])
@pytest.mark.parametrize(("step", "body"), STEPS)
def test_customer_roles_are_refused(client, db, world, user, step, body):
    case_id = open_case(db, tenant=world.tenant_a)
    token = login(client, user)
    assert client.get(f"{API}/{case_id}").status_code == 403
    assert _post(client, token, f"{API}/{case_id}/{step}", body).status_code == 403
    with db.sessionmaker() as s:
        assert repo.get_case(s, case_id=case_id).stage == "inquiry"


@pytest.mark.parametrize(("step", "body"), STEPS)
def test_api_keys_and_anonymous_callers_are_refused(client, db, world, step, body):
    case_id = open_case(db)
    bearer = {"Authorization": f"Bearer {world.token('a-api')}"}
    assert client.get(f"{API}/{case_id}", headers=bearer).status_code == 403
    assert client.post(f"{API}/{case_id}/{step}", json=body, headers=bearer).status_code == 403
    assert client.post(f"{API}/{case_id}/{step}", json=body).status_code in (401, 403)


def test_a_cookie_session_needs_the_csrf_header(client, db, world):
    case_id = open_case(db)
    login(client, "op-a")
    assert client.post(f"{API}/{case_id}/meeting", json=MEETING).status_code == 403


def test_tenant_b_case_and_assessment_are_out_of_reach(client, db, world):
    b_case = open_case(db, tenant=world.tenant_b)
    b_assessment = store_assessment(db, world.tenant_b, {"103": "未対策"})
    prospect = open_case(db)
    token = login(client, "op-a")
    assert client.get(f"{API}/{b_case}").status_code == 404
    for step, body in STEPS:
        assert _post(client, token, f"{API}/{b_case}/{step}", body).status_code == 404
    r = _post(
        client, token, f"{API}/{prospect}/meeting", {**MEETING, "assessment_id": b_assessment}
    )
    assert r.status_code == 404 and "zzbmarker" not in r.text
    with db.sessionmaker() as s:
        assert repo.get_case(s, case_id=b_case).stage == "inquiry"
        assert repo.get_case(s, case_id=prospect).meeting is None
    # tenant B's own operator may use it
    token = login(client, "op-zzbmarker")
    r = _post(client, token, f"{API}/{b_case}/meeting", {**MEETING, "assessment_id": b_assessment})
    assert r.status_code == 200 and r.json()["meeting"]["gaps"] == [103]


def test_the_meeting_step_reads_the_gaps_from_an_uploaded_check_sheet(client, db, world, tmp_path):
    """A prospect with no tenant yet: the consultant sends the filled sheet with the notes."""
    sheet = filled_sheet(tmp_path / "sheet.xlsx", {103: "未対策", 142: "一部対策"})
    encoded = base64.b64encode(sheet.read_bytes()).decode()
    case_id = open_case(db)
    token = login(client, "op-a")
    body = {**MEETING, "checksheet_base64": encoded, "checksheet_filename": "みらい精機.xlsx"}
    r = _post(client, token, f"{API}/{case_id}/meeting", body)
    assert r.status_code == 200, r.text
    meeting = r.json()["meeting"]
    assert 103 in meeting["gaps"] and 142 in meeting["gaps"]
    assert meeting["gap_set"]["source"] == "sheet"
    assert meeting["gap_set"]["reference"] == "みらい精機.xlsx"
    r = _post(client, token, f"{API}/{case_id}/proposal", {})
    assert r.status_code == 200 and r.json()["proposal"]["course"] == "small-network"

    other = open_case(db)
    not_a_sheet = base64.b64encode(b"PK\x03\x04 not really a workbook").decode()
    r = _post(
        client, token, f"{API}/{other}/meeting", {**MEETING, "checksheet_base64": not_a_sheet}
    )
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("checksheet.xlsx: not a readable .xlsx workbook")
    assert "/tmp" not in r.text  # the private temporary path is not shown
    with db.sessionmaker() as s:
        assert repo.get_case(s, case_id=other).meeting is None
