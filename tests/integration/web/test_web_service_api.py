"""``/api/v1/service``: quote computation and insurance with the CLI's JSON, stored quotes,
operators-only enforcement."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from foundation_db import login
from mamori.cli.main import app as cli_app

STAFF_ONLY = [
    ("POST", "/api/v1/service/quote", {"course": "endpoint", "devices": 5}),
    ("GET", "/api/v1/service/quotes", None),
    ("POST", "/api/v1/service/quotes", {"course": "endpoint", "devices": 5, "customer": "x"}),
    ("GET", "/api/v1/service/contracts", None),
    ("GET", "/api/v1/service/cases", None),
]


def _api(client, method, path, token, body=None):
    headers = {"X-CSRF-Token": token}
    return client.request(method, path, headers=headers, json=body)


def test_quote_computation_matches_the_cli_json(client, world):
    token = login(client, "op-a")
    body = {"course": "small-network", "devices": 10, "months": 24, "subsidy_year": 2025}
    r = _api(client, "POST", "/api/v1/service/quote", token, {**body, "quote_date": "2026-05-01"})
    assert r.status_code == 200, r.text
    api = r.json()
    cli = CliRunner().invoke(
        cli_app,
        [
            "quote",
            "--course=small-network",
            "--devices=10",
            "--months=24",
            "--subsidy-year=2025",
            "--date=2026-05-01",
            "--format=json",
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert api == json.loads(cli.output)
    assert (api["fees_total"], api["tax_included_total"]) == (729200, 802120)
    assert (api["subsidy"], api["customer_pays_tax_included"]) == (364600, 437520)
    assert "subsidy_reason" not in api


def test_campaign_quote_says_why_there_is_no_subsidy(client, world):
    token = login(client, "root")
    r = _api(
        client,
        "POST",
        "/api/v1/service/quote",
        token,
        {"course": "endpoint", "devices": 50, "campaign": True, "subsidy_year": 2024},
    )
    data = r.json()
    assert data["subsidy"] == 0 and "キャンペーン" in data["subsidy_reason"]
    assert data["customer_pays_tax_included"] == data["tax_included_total"]
    en = _api(
        client,
        "POST",
        "/api/v1/service/quote",
        token,
        {"course": "network", "devices": 3, "lang": "en"},
    ).json()
    assert en["course_name"] == "Network + endpoint monitoring"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"course": "endpoint", "devices": 0}, "at least 1"),
        ({"course": "endpoint", "devices": -3}, "at least 1"),
        ({"course": "small-network", "devices": 16}, "over the range"),
        ({"course": "gold", "devices": 5}, "unknown course"),
        ({"course": "endpoint", "devices": 5, "months": 0}, "months"),
        ({"course": "endpoint", "devices": 5, "subsidy_year": 2019}, "no IT subsidy rules"),
    ],
)
def test_bad_quote_input_is_a_clear_422(client, world, body, message):
    token = login(client, "op-a")
    r = _api(client, "POST", "/api/v1/service/quote", token, body)
    assert r.status_code == 422 and message in r.json()["detail"], r.text


@pytest.mark.parametrize(
    "fields",
    [{"months": "two"}, {"months": 1.5}, {"devices": True}, {"devices": "5"}, {"campaign": "yes"}],
)
def test_numbers_and_flags_must_have_their_json_types(client, world, fields):
    token = login(client, "op-a")
    body = {"course": "endpoint", "devices": 5, **fields}
    r = _api(client, "POST", "/api/v1/service/quote", token, body)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("user", ["cadmin-a", "viewer-a"])
@pytest.mark.parametrize(("method", "path", "body"), STAFF_ONLY)
def test_customer_roles_get_403_on_quotes_contracts_and_cases(
    client, world, user, method, path, body
):
    token = login(client, user)
    assert _api(client, method, path, token, body).status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ONLY)
def test_api_keys_get_403_on_quotes(client, world, method, path, body):
    headers = {"Authorization": f"Bearer {world.token('a-api')}"}
    assert client.request(method, path, headers=headers, json=body).status_code == 403


def test_stored_quote_is_numbered_and_its_pdf_downloads(client, world):
    token = login(client, "op-a")
    body = {
        "course": "network",
        "devices": 20,
        "customer": "株式会社見込",
        "issue_date": "2026-04-01",
    }
    first = _api(client, "POST", "/api/v1/service/quotes", token, body)
    second = _api(client, "POST", "/api/v1/service/quotes", token, body)
    assert first.status_code == 201, first.text
    assert [first.json()["number"], second.json()["number"]] == ["Q-2026-00001", "Q-2026-00002"]
    quote = first.json()
    assert quote["valid_until"] == "2026-05-01" and quote["inputs"]["devices"] == 20
    listed = client.get("/api/v1/service/quotes").json()
    assert [q["number"] for q in listed] == ["Q-2026-00002", "Q-2026-00001"]
    pdf = client.get(f"/api/v1/service/quotes/{quote['id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (
        pdf.content.startswith(b"%PDF") and "Q-2026-00001.pdf" in pdf.headers["content-disposition"]
    )
    assert client.get(f"/api/v1/service/quotes/{quote['id']}/pdf?lang=en").status_code == 200
    assert client.get("/api/v1/service/quotes/999999").status_code == 404
    bad = _api(client, "POST", "/api/v1/service/quotes", token, {**body, "devices": 0})
    assert bad.status_code == 422
    third = _api(client, "POST", "/api/v1/service/quotes", token, body)
    assert third.json()["number"] == "Q-2026-00003"  # the refused one took no number


def test_insurance_calculation_matches_the_cli_json(client, world, tmp_path):
    token = login(client, "viewer-a")
    claim = {
        "items": [
            {"category": "damages", "amount": 3_000_000},
            {"category": "cyber_attack_investigation", "amount": 500_000},
        ]
    }
    r = _api(client, "POST", "/api/v1/service/insurance", token, {"devices": 4, "claim": claim})
    assert r.status_code == 200, r.text
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim), encoding="utf-8")
    cli = CliRunner().invoke(
        cli_app, ["insurance", "--devices=4", f"--claim={path}", "--format=json"]
    )
    assert r.json() == json.loads(cli.output)
    assert r.json()["paid_total"] == 2_000_000 and r.json()["bound_by"] == "per_device_liability"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"devices": 2, "claim": {"items": [{"category": "lunch", "amount": 1}]}}, "unknown"),
        ({"devices": 2, "claim": {"items": [{"category": "damages", "amount": -5}]}}, "negative"),
        ({"devices": 0, "claim": {"damages": 5}}, "at least 1"),
        ({"claim": {"damages": 5}}, "devices is required"),
    ],
)
def test_bad_claims_are_a_clear_422(client, world, body, message):
    token = login(client, "op-a")
    r = _api(client, "POST", "/api/v1/service/insurance", token, body)
    assert r.status_code == 422 and message in json.dumps(r.json(), ensure_ascii=False)


def test_courses_are_listed_for_every_logged_in_user_and_api_keys(client, world):
    login(client, "viewer-a")
    data = client.get("/api/v1/service/courses").json()
    assert [c["course"] for c in data["courses"]] == ["endpoint", "small-network", "network"]
    assert all(c["otasuketai"]["conforms"] for c in data["courses"])
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {world.token('a-api')}"}
    assert client.get("/api/v1/service/courses", headers=headers).status_code == 200


def test_quote_for_an_existing_tenant_follows_its_isolation(client, world):
    token = login(client, "op-a")
    body = {"course": "endpoint", "devices": 8, "customer": "株式会社エー部品"}
    own = _api(
        client, "POST", "/api/v1/service/quotes", token, {**body, "tenant_id": world.tenant_a.id}
    )
    assert own.status_code == 201 and own.json()["tenant_id"] == world.tenant_a.id
    other = _api(
        client, "POST", "/api/v1/service/quotes", token, {**body, "tenant_id": world.tenant_b.id}
    )
    assert other.status_code == 404
    login(client, "op-zzbmarker")
    assert client.get(f"/api/v1/service/quotes/{own.json()['id']}").status_code == 404
    assert client.get("/api/v1/service/quotes").json() == []
