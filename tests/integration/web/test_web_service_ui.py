"""Service pages: courses, the insurance calculator, quotes, the public inquiry form and the
onboarding of a customer from inquiry to a tenant whose administrator logs in."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from foundation_db import SECRET, csrf_of, login
from mamori.service.onboarding import issue_form_token
from mamori.store.repos import audit
from mamori.store.repos import service as repo
from mamori.web.routers import service_ui as service_router

INQUIRY = {
    "company": "株式会社みらい精機",
    "contact_name": "佐藤 花子",
    "email": "sato@mirai.example.jp",
    "phone": "03-0000-0000",
    "devices": "12",
    "message": "UTMと端末監視の導入を検討しています。",
}


def _token(seconds_ago: float) -> str:
    return issue_form_token(SECRET, datetime.now(UTC) - timedelta(seconds=seconds_ago))


def _send_inquiry(client, **overrides: str):
    client.get("/inquiry")
    data = {**INQUIRY, "form_token": _token(30), "csrf_token": csrf_of(client), "website": ""}
    data.update(overrides)
    return client.post("/inquiry", data=data)


def _cases(db):
    with db.sessionmaker() as s:
        return repo.list_cases(s)


def test_inquiry_form_is_public_and_accepts_a_real_inquiry(client, db, world):
    page = client.get("/inquiry")
    assert page.status_code == 200
    assert 'name="form_token"' in page.text and 'name="website"' in page.text
    r = _send_inquiry(client)
    assert r.status_code == 303 and r.headers["location"] == "/inquiry?sent=1"
    assert 'id="inquiry-sent"' in client.get("/inquiry?sent=1").text
    (case,) = _cases(db)
    assert (case.company, case.stage, case.devices_hint, case.tenant_id) == (
        "株式会社みらい精機",
        "inquiry",
        12,
        None,
    )
    with db.sessionmaker() as s:
        assert [e.action for e in repo.case_history(s, row=case)] == ["onboarding.inquiry"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"website": "http://spam.example"}, "honeypot"),
        ({"form_token": "__now__"}, "after the form was shown"),
        ({"form_token": "forged.token"}, "not valid"),
        ({"form_token": "__old__"}, "older than 24 hours"),
        ({"message": "http://a http://b http://c buy now"}, "links"),
    ],
)
def test_spam_is_refused_neutrally_and_logged(client, db, world, overrides, reason):
    if overrides.get("form_token") == "__now__":
        overrides = {"form_token": _token(0)}
    elif overrides.get("form_token") == "__old__":
        overrides = {"form_token": _token(25 * 3600)}
    r = _send_inquiry(client, **overrides)
    assert r.status_code == 400
    assert "送信できませんでした" in r.text and reason not in r.text
    assert _cases(db) == []
    with db.sessionmaker() as s:
        (entry,) = audit.list_entries(s, action_prefix="onboarding.inquiry_rejected")
    assert any(reason in spam for spam in entry.detail["spam"])


def test_inquiry_without_csrf_token_is_refused(client, db, world):
    client.get("/inquiry")
    data = {**INQUIRY, "form_token": _token(30)}
    assert client.post("/inquiry", data=data).status_code == 403
    assert _cases(db) == []


def test_invalid_fields_are_shown_back_and_nothing_is_lost(client, db, world):
    r = _send_inquiry(client, email="not-an-email", devices="-2")
    assert r.status_code == 422
    assert "メールアドレスが正しくありません" in r.text and "台数は1以上" in r.text
    assert "株式会社みらい精機" in r.text and "UTMと端末監視" in r.text  # input kept
    assert _cases(db) == []


def test_inquiries_are_rate_limited_per_address(client, db, world, monkeypatch):
    monkeypatch.setattr(service_router, "INQUIRY_LIMIT", 2)
    assert _send_inquiry(client).status_code == 303
    assert _send_inquiry(client, website="spam").status_code == 400
    limited = _send_inquiry(client)
    assert limited.status_code == 429 and "送信回数が多すぎます" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert len(_cases(db)) == 1


def test_courses_page_for_any_user_in_japanese_and_english(client, world):
    login(client, "viewer-a")
    page = client.get("/service")
    assert page.status_code == 200
    assert "小規模ネットワーク&amp;端末監視コース" in page.text and "適合" in page.text
    assert 'href="/service"' in page.text  # the サービス nav entry
    assert "/service/quotes" not in page.text  # staff links hidden from customers
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_of(client), "next": "/service"})
    assert "Small network + endpoint monitoring" in client.get("/service").text


@pytest.mark.parametrize("user", ["cadmin-a", "viewer-a"])
@pytest.mark.parametrize("path", ["/service/quotes", "/service/contracts", "/service/cases"])
def test_customers_get_403_on_staff_pages(client, world, user, path):
    token = login(client, user)
    assert client.get(path).status_code == 403
    if path != "/service/contracts":  # contracts are made by a case's contract step
        assert client.post(path, data={"csrf_token": token, "customer": "x"}).status_code == 403


def test_operator_creates_a_quote_from_the_form_and_downloads_its_pdf(client, world):
    token = login(client, "op-a")
    form = {
        "csrf_token": token,
        "customer": "株式会社見込",
        "course": "small-network",
        "devices": "10",
        "months": "24",
        "subsidy_year": "2024",
        "security_action": "on",
        "issue_date": "2026-04-01",
    }
    r = client.post("/service/quotes", data=form)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Q-2026-00001" in page.text and "437,520" in page.text and "364,600" in page.text
    pdf = client.get(r.headers["location"] + "/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    listing = client.get("/service/quotes").text
    assert "Q-2026-00001" in listing
    client.post("/lang", data={"lang": "en", "csrf_token": token, "next": "/"})
    english = client.get(r.headers["location"]).text
    assert "UTM licence and maintenance" in english and "Customer pays" in english
    bad = client.post("/service/quotes", data={**form, "devices": "16"})
    assert bad.status_code == 422 and "over the range" in bad.text
    assert 'value="株式会社見込"' in bad.text  # the form is kept


def test_insurance_calculator_page(client, world):
    token = login(client, "viewer-a")
    assert client.get("/service/insurance").status_code == 200
    r = client.post(
        "/service/insurance",
        data={
            "csrf_token": token,
            "devices": "2",
            "amount_damages": "800,000",
            "amount_incident_response": "400000",
        },
    )
    assert r.status_code == 200
    assert re.search(r'class="paid-total">1,000,000<', r.text), r.text
    bad = client.post(
        "/service/insurance", data={"csrf_token": token, "devices": "2", "amount_damages": "-1"}
    )
    assert bad.status_code == 422 and "negative" in bad.text


def _step(client, token, case_id, step, **data):
    r = client.post(f"/service/cases/{case_id}/{step}", data={"csrf_token": token, **data})
    assert r.status_code in (200, 303), r.text
    return r


def test_onboarding_end_to_end_creates_a_tenant_whose_admin_logs_in(client, db, world):
    assert _send_inquiry(client).status_code == 303
    (case,) = _cases(db)
    token = login(client, "op-a")
    assert "株式会社みらい精機" in client.get("/service/cases").text
    today = date.today()
    _step(
        client,
        token,
        case.id,
        "meeting",
        held_on=today.isoformat(),
        attendees="佐藤, op-a",
        devices="12",
        network_size="small",
        gaps="103, 142",
        notes="UTMを含めて提案",
    )
    refused = client.post(
        f"/service/cases/{case.id}/contract",
        data={
            "csrf_token": token,
            "signed_on": today.isoformat(),
            "start_date": today.isoformat(),
            "devices": "12",
        },
    )
    assert refused.status_code == 422, refused.text
    assert "cannot sign a contract" in re.search(r"role=\"alert\">(.*?)</p>", refused.text).group(1)
    _step(client, token, case.id, "proposal")
    _step(client, token, case.id, "quote", months="12", security_action="on")
    start = today + timedelta(days=7)
    _step(
        client,
        token,
        case.id,
        "contract",
        signed_on=today.isoformat(),
        start_date=start.isoformat(),
        devices="12",
        term_months="12",
    )
    provision = {
        "tenant_slug": "mirai-seiki",
        "tenant_name": "株式会社みらい精機",
        "admin_username": "mirai-admin",
        "admin_email": "sato@mirai.example.jp",
    }
    r = _step(client, token, case.id, "provision", **provision)
    password = re.search(r'id="initial-password">([^<]+)<', r.text).group(1)
    # sending the form again creates nothing and shows no password
    again = _step(client, token, case.id, "provision", **provision)
    assert "initial-password" not in again.text and "mirai-seiki" in again.text
    page = client.get(f"/service/cases/{case.id}")
    assert page.status_code == 200  # the operator was assigned the tenant
    assert "service_quote" not in page.text
    for action in ("onboarding.contract", "onboarding.provisioned"):
        assert action in page.text
    contracts = client.get("/service/contracts").text
    assert "株式会社みらい精機" in contracts
    # another operator does not see the new tenant's case
    login(client, "op-zzbmarker")
    assert client.get(f"/service/cases/{case.id}").status_code == 404

    login(client, "mirai-admin", password)
    assert client.get("/").status_code == 200
    calc = client.get("/service/insurance")
    assert "貴社の契約台数：12台" not in calc.text  # the contract starts next week
    with db.sessionmaker() as s:
        row = repo.get_case(s, case_id=case.id)
        assert row.stage == "provisioned"
        assert repo.licensed_devices(s, tenant_id=row.tenant_id, on=start) == 12
        assert audit.verify(s).ok
    assert client.get("/service/cases").status_code == 403


def test_a_customer_sees_their_licensed_devices_in_the_calculator(client, db, world):
    from mamori.service.inputs import QuoteInputs

    with db.session() as s:
        quote = repo.create_quote(
            s,
            inputs=QuoteInputs("endpoint", 7),
            issue_date=date.today(),
            customer="株式会社エー部品",
            actor="t",
            tenant_id=world.tenant_a.id,
        )
        from mamori.store.tables import ContractRow

        s.add(
            ContractRow(
                quote_id=quote.id,
                tenant_id=world.tenant_a.id,
                customer="株式会社エー部品",
                course="endpoint",
                devices=7,
                signed_on=date.today(),
                start_date=date.today(),
                end_date=date.today() + timedelta(days=364),
                term_months=12,
            )
        )
    token = login(client, "viewer-a")
    page = client.get("/service/insurance")
    assert "貴社の契約台数：7台" in page.text and 'value="7"' in page.text
    r = client.post(
        "/api/v1/service/insurance",
        headers={"X-CSRF-Token": token},
        json={"claim": {"damages": 9_000_000}},
    )
    assert r.json()["devices"] == 7 and r.json()["paid_total"] == 3_500_000


def test_dashboard_counts_open_cases_for_staff_only(client, db, world):
    assert _send_inquiry(client).status_code == 303
    login(client, "op-a")
    page = client.get("/").text
    assert "進行中の導入案件" in page and 'href="/service/cases"' in page
    login(client, "cadmin-a")
    assert "進行中の導入案件" not in client.get("/").text


def test_provisioning_sent_twice_at_once_creates_one_tenant(app, db, world, settings):
    """Two operators' browsers send the provision form at the same moment."""
    import threading
    import warnings

    from mamori.service import onboarding as flow
    from mamori.service.recommend import NetworkSize
    from mamori.store.repos import tenants, users

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    with db.session() as s:
        row = repo.open_case(
            s, inquiry=flow.Inquiry("同時社", "担当", "d@example.jp", "x"), actor="t"
        )
        notes = flow.MeetingNotes(date.today(), ("a",), "n", 3, NetworkSize.NONE)
        repo.record_meeting(s, row=row, notes=notes, actor="t")
        repo.propose(s, row=row, actor="t")
        repo.quote_case(s, row=row, actor="t", issue_date=date.today())
        repo.sign_contract(
            s, row=row, actor="t", signed_on=date.today(), start_date=date.today(), devices=3
        )
        case_id = row.id
    form = {
        "tenant_slug": "douji",
        "admin_username": "douji-admin",
        "admin_email": "d@example.jp",
    }
    clients = [TestClient(app, follow_redirects=False) for _ in range(2)]
    tokens = [login(c, "root") for c in clients]
    barrier = threading.Barrier(2)
    responses: list = [None, None]

    def send(i: int) -> None:
        barrier.wait(timeout=30)
        responses[i] = clients[i].post(
            f"/service/cases/{case_id}/provision", data={"csrf_token": tokens[i], **form}
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for c in clients:
        c.close()
    assert [r.status_code for r in responses] == [200, 200]
    assert sum("initial-password" in r.text for r in responses) == 1
    assert all("douji" in r.text for r in responses)
    with db.sessionmaker() as s:
        assert tenants.get_tenant_by_slug(s, slug="douji").name == "同時社"
        assert len([u for u in users.list_users(s) if u.username == "douji-admin"]) == 1
        assert repo.get_case(s, case_id=case_id).stage == "provisioned"
