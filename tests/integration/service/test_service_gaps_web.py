"""The meeting step takes the guideline gaps from a stored assessment or an uploaded sheet."""

from __future__ import annotations

import re
from datetime import date

from foundation_db import login
from mamori.store.repos import service as repo
from tests.integration.service.helpers import filled_sheet, open_case, store_assessment

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _meeting(**extra: str) -> dict[str, str]:
    return {
        "held_on": date.today().isoformat(),
        "attendees": "佐藤, op-a",
        "devices": "10",
        "network_size": "none",
        "notes": "自己評価の結果を確認",
        **extra,
    }


def _row(db, case_id):
    with db.sessionmaker() as s:
        return repo.get_case(s, case_id=case_id)


def test_a_linked_tenants_latest_assessment_prefills_and_drives_the_proposal(client, db, world):
    store_assessment(db, world.tenant_a, {"1": "未対策"}, title="昨年度")
    latest = store_assessment(
        db, world.tenant_a, {"103": "未対策", "137": "一部対策", "1": "対策完了"}, title="今年度"
    )
    case_id = open_case(db, tenant=world.tenant_a)
    token = login(client, "op-a")
    page = client.get(f"/service/cases/{case_id}")
    assert page.status_code == 200
    assert re.search(r'name="gaps"[^>]*value="103, 137"', page.text), page.text
    assert f'value="assessment:{latest}" selected' in page.text
    assert "通信制御" in page.text and "Lv2" in page.text and "一部対策" in page.text
    r = client.post(
        f"/service/cases/{case_id}/meeting",
        data={"csrf_token": token, **_meeting(gap_source=f"assessment:{latest}")},
    )
    assert r.status_code == 303, r.text
    meeting = _row(db, case_id).meeting
    assert meeting["gaps"] == [103, 137]
    assert meeting["gap_set"]["reference"] == latest
    assert meeting["gap_set"]["gaps"][0]["label"] == 17
    r = client.post(f"/service/cases/{case_id}/proposal", data={"csrf_token": token})
    assert r.status_code == 303, r.text
    proposal = _row(db, case_id).proposal
    assert proposal["course"] == "small-network"  # no office network, but No.103 is open
    assert any("「通信制御」No.103 Lv2" in reason["ja"] for reason in proposal["reasons"])
    assert any("Communication control" in reason["en"] for reason in proposal["reasons"])
    case_page = client.get(f"/service/cases/{case_id}").text
    assert "今年度" in case_page  # the recorded source is shown with the meeting
    with db.sessionmaker() as s:
        history = repo.case_history(s, row=repo.get_case(s, case_id=case_id))
    meeting_entry = next(h for h in history if h.action == "onboarding.meeting")
    assert meeting_entry.detail["detail"]["gap_source"]["source"] == "assessment"


def test_a_prospect_case_can_load_an_assessment_the_operator_may_see(client, db, world):
    mine = store_assessment(db, world.tenant_a, {"142": "未対策"})
    theirs = store_assessment(db, world.tenant_b, {"103": "未対策"}, title="B社の評価")
    case_id = open_case(db)
    token = login(client, "op-a")
    page = client.get(f"/service/cases/{case_id}").text
    assert f'<option value="{mine}"' in page and theirs not in page
    assert "B社の評価" not in page
    prefilled = client.get(f"/service/cases/{case_id}?assessment_id={mine}")
    assert re.search(r'name="gaps"[^>]*value="142"', prefilled.text)
    assert client.get(f"/service/cases/{case_id}?assessment_id={theirs}").status_code == 404
    refused = client.post(
        f"/service/cases/{case_id}/meeting",
        data={"csrf_token": token, **_meeting(gap_source=f"assessment:{theirs}")},
    )
    assert refused.status_code == 422 and "not found" in refused.text
    assert _row(db, case_id).stage == "inquiry" and _row(db, case_id).meeting is None


def test_an_uploaded_check_sheet_gives_the_gaps_of_a_prospect(client, db, world, tmp_path):
    sheet = filled_sheet(
        tmp_path / "sheet.xlsx", {97: "未対策", 140: "一部対策", 1: "対策完了"}
    ).read_bytes()
    case_id = open_case(db)
    token = login(client, "op-a")
    r = client.post(
        f"/service/cases/{case_id}/meeting",
        data={"csrf_token": token, **_meeting(gap_source="sheet", devices="5")},
        files={"checksheet": ("見込み客チェックシート.xlsx", sheet, XLSX)},
    )
    assert r.status_code == 303, r.text
    meeting = _row(db, case_id).meeting
    assert meeting["gaps"] == [97, 140]
    assert meeting["gap_set"]["source"] == "sheet"
    assert meeting["gap_set"]["reference"] == "見込み客チェックシート.xlsx"
    page = client.get(f"/service/cases/{case_id}").text
    assert "見込み客チェックシート.xlsx" in page and "No.140" in page
    assert '<option value="stored" selected>' in page
    # revising the notes keeps the sheet's gaps (with their labels and levels)
    r = client.post(
        f"/service/cases/{case_id}/meeting",
        data={"csrf_token": token, **_meeting(gap_source="stored", devices="6")},
    )
    assert r.status_code == 303, r.text
    revised = _row(db, case_id).meeting
    assert revised["devices"] == 6 and revised["gap_set"]["source"] == "sheet"
    assert revised["gap_set"]["gaps"] == meeting["gap_set"]["gaps"]
    client.post(f"/service/cases/{case_id}/proposal", data={"csrf_token": token})
    proposal = _row(db, case_id).proposal
    assert proposal["course"] == "small-network"  # No.97 is a 通信制御 item


def test_a_bad_upload_is_a_clear_error_and_changes_nothing(client, db, world, tmp_path):
    case_id = open_case(db)
    token = login(client, "op-a")
    for name, data, message in [
        ("gaps.csv", "No.,回答\n1,未対策\n".encode(), "xlsx"),
        ("empty.xlsx", filled_sheet(tmp_path / "e.xlsx", {}).read_bytes(), "no answers"),
        ("bad.xlsx", filled_sheet(tmp_path / "b.xlsx", {5: "たぶん"}).read_bytes(), "F"),
    ]:
        r = client.post(
            f"/service/cases/{case_id}/meeting",
            data={"csrf_token": token, **_meeting(gap_source="sheet")},
            files={"checksheet": (name, data, XLSX)},
        )
        assert r.status_code == 422 and message in r.text, (name, r.text[:300])
        assert _row(db, case_id).stage == "inquiry"
    missing = client.post(
        f"/service/cases/{case_id}/meeting",
        data={"csrf_token": token, **_meeting(gap_source="sheet")},
    )
    assert missing.status_code == 422 and "choose the check sheet" in missing.text
    nothing_kept = client.post(
        f"/service/cases/{case_id}/meeting",
        data={"csrf_token": token, **_meeting(gap_source="stored")},
    )
    assert nothing_kept.status_code == 422 and "no recorded gaps" in nothing_kept.text
    unknown = client.post(
        f"/service/cases/{case_id}/meeting",
        data={"csrf_token": token, **_meeting(gap_source="rumour")},
    )
    assert unknown.status_code == 422 and "unknown gap source" in unknown.text
    assert _row(db, case_id).stage == "inquiry"
