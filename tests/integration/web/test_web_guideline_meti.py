"""METI SCS assessments and cross-reference proposals through the API (consent required)."""

from __future__ import annotations

from sqlalchemy import select

from mamori.store.tables import AuditLog
from tests.integration.web.guideline_helpers import API, as_user, create

METI_CSV = "guideline/meti-scs-criteria-2026-03.csv"


def test_meti_assessment_and_proposals_need_consent(client, world, db, shared_data):
    h = as_user(client, "cadmin-a")
    csv_bytes = (shared_data / METI_CSV).read_bytes()
    r = client.post(f"{API}/meti?title=SCS評価", content=csv_bytes, headers=h)
    assert r.status_code == 201, r.text
    meti = r.json()
    assert meti["framework_id"] == "meti-scs" and meti["items"] == 153
    assert meti["catalogue"]["verified"] == 153 and meti["title"] == "SCS評価"
    score = client.get(f"{API}/assessments/{meti['id']}/score").json()
    assert set(score["rates_by_level"]) == {"3", "4"}

    jama = create(client, h, title="JAMA")
    for n in (9, 10):
        client.put(
            f"{API}/assessments/{jama['id']}/answers/{n}", json={"status": "対策完了"}, headers=h
        )
    r = client.post(f"{API}/assessments/{meti['id']}/proposals", json={}, headers=h)
    assert r.status_code == 200, r.text
    proposals = r.json()
    assert proposals and all(p["state"] == "open" for p in proposals)
    first = next(p for p in proposals if set(p["source_items"]) <= {"9", "10"})
    assert first["status"] == "対策完了"
    # nothing was answered yet
    detail = client.get(f"{API}/assessments/{meti['id']}").json()
    assert detail["answered"] == 0
    r = client.post(
        f"{API}/assessments/{meti['id']}/proposals/decide",
        json={"proposal_id": first["id"], "accept": True},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    detail = client.get(f"{API}/assessments/{meti['id']}").json()
    assert detail["answers"][first["item"]]["status"] == "対策完了"
    history = client.get(f"{API}/assessments/{meti['id']}/history").json()
    assert history[-1]["source"].startswith("proposal:jama-japia")
    others = [p for p in proposals if p["id"] != first["id"]]
    if others:
        r = client.post(
            f"{API}/assessments/{meti['id']}/proposals/decide",
            json={"proposal_id": others[0]["id"], "accept": False},
            headers=h,
        )
        assert r.json()["state"] == "rejected"
    r = client.post(
        f"{API}/assessments/{meti['id']}/proposals/decide",
        json={"proposal_id": first["id"], "accept": True},
        headers=h,
    )
    assert r.status_code == 404  # no longer open
    assert (
        client.post(
            f"{API}/assessments/{meti['id']}/proposals/decide", json={}, headers=h
        ).status_code
        == 422
    )
    listed = client.get(
        f"{API}/assessments/{meti['id']}/proposals", params={"state": "accepted"}
    ).json()
    assert [p["id"] for p in listed] == [first["id"]]
    # the other direction: METI answers propose JAMA answers
    r = client.post(
        f"{API}/assessments/{jama['id']}/proposals", json={"source": meti["id"]}, headers=h
    )
    assert r.status_code == 200
    # two JAMA assessments cannot propose to each other
    other_jama = create(client, h)
    r = client.post(
        f"{API}/assessments/{jama['id']}/proposals", json={"source": other_jama["id"]}, headers=h
    )
    assert r.status_code == 422
    with db.session() as s:
        actions = {e.action for e in s.scalars(select(AuditLog))}
    assert {"guideline.proposal.accept", "guideline.proposal.reject"} <= actions

    # bad input and other tenants
    assert client.post(f"{API}/meti", content=b"a,b\n1,2\n", headers=h).status_code == 422
    assert client.post(f"{API}/meti", content=b"\xff\xfe\x00bad", headers=h).status_code == 415
    hb = as_user(client, "cadmin-zzbmarker")
    assert client.get(f"{API}/assessments/{meti['id']}/proposals").status_code == 404
    r = client.post(
        f"{API}/assessments/{meti['id']}/proposals/decide",
        json={"proposal_id": first["id"], "accept": True},
        headers=hb,
    )
    assert r.status_code == 404
    b_jama = create(client, hb)
    r = client.post(
        f"{API}/assessments/{b_jama['id']}/proposals", json={"source": meti["id"]}, headers=hb
    )
    assert r.status_code == 404
    hv = as_user(client, "viewer-a")
    r = client.post(f"{API}/assessments/{meti['id']}/proposals", json={}, headers=hv)
    assert r.status_code == 403


def test_meti_and_proposals_on_the_pages(client, world, shared_data):
    from foundation_db import login

    csrf = login(client, "cadmin-a")
    page = client.get("/guideline")
    assert 'action="/guideline/meti"' in page.text
    csv_bytes = (shared_data / METI_CSV).read_bytes()
    r = client.post(
        "/guideline/meti",
        data={"title": "SCS", "csrf_token": csrf},
        files={"file": ("meti.csv", csv_bytes, "text/csv")},
    )
    assert r.status_code == 303, r.text
    meti_id = r.headers["location"].rsplit("/", 1)[1]
    dash = client.get(f"/guideline/{meti_id}")
    assert dash.status_code == 200 and "★3" in dash.text and "★4" in dash.text
    assert "/target" not in dash.text  # the JAMA target questionnaire does not apply
    assert client.get(f"/guideline/{meti_id}/labels/1").status_code == 200
    assert client.get(f"/guideline/{meti_id}/roadmap").status_code == 200
    report = client.get(f"{API}/assessments/{meti_id}/report", params={"format": "pdf"})
    assert report.status_code == 200 and report.content.startswith(b"%PDF")
    r = client.post("/guideline", data={"title": "JAMA", "csrf_token": csrf})
    jama_id = r.headers["location"].rsplit("/", 1)[1]
    client.post(f"/guideline/{jama_id}/items/9", data={"status": "対策完了", "csrf_token": csrf})
    client.post(f"/guideline/{jama_id}/items/10", data={"status": "対策完了", "csrf_token": csrf})
    dash = client.get(f"/guideline/{meti_id}")
    assert 'id="proposals"' in dash.text and f'value="{jama_id}"' in dash.text
    r = client.post(f"/guideline/{meti_id}/proposals", data={"source": jama_id, "csrf_token": csrf})
    assert r.status_code == 200 and "回答案を" in r.text and 'value="accept"' in r.text
    proposal = client.get(f"{API}/assessments/{meti_id}/proposals").json()[0]
    r = client.post(
        f"/guideline/{meti_id}/proposals/decide",
        data={"proposal_id": proposal["id"], "decision": "accept", "csrf_token": csrf},
    )
    assert r.status_code == 303
    detail = client.get(f"{API}/assessments/{meti_id}").json()
    assert detail["answers"][proposal["item"]]["status"] == proposal["status"]
    r = client.post(
        "/guideline/meti",
        data={"csrf_token": csrf},
        files={"file": ("bad.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert r.status_code == 422 and 'role="alert"' in r.text
