"""The public inquiry form and the operator's case page in a real browser (chromium)."""

from __future__ import annotations

import os
import time

import pytest

from foundation_db import PASSWORD
from mamori.service.onboarding import MIN_FILL_SECONDS
from mamori.store.repos import service as repo
from tests.integration.web.test_web_browser import live_server, page  # noqa: F401

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("MAMORI_SCREENSHOTS")  # a folder to keep screenshots in, when set


def _shot(page, name: str) -> None:  # noqa: F811
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_person_sends_the_inquiry_and_an_operator_sees_the_case(page, db, world):  # noqa: F811
    page.goto("/inquiry")
    assert page.locator("html").get_attribute("lang") == "ja"
    box = page.locator("#website").bounding_box()
    assert box is None or box["x"] + box["width"] < 0  # the honeypot is off-screen for people
    page.fill("#company", "株式会社ブラウザ工業")
    page.fill("#contact_name", "鈴木 一郎")
    page.fill("#email", "suzuki@browser.example.jp")
    page.fill("#devices", "8")
    page.fill("#message", "端末監視コースの見積をお願いします。")
    _shot(page, "inquiry")
    time.sleep(MIN_FILL_SECONDS + 0.3)  # a person takes a moment; bots that do not are refused
    with page.expect_navigation():
        page.click("form[action='/inquiry'] button[type=submit]")
    assert "受け付けました" in page.inner_text("#inquiry-sent")
    with db.sessionmaker() as s:
        (case,) = repo.list_cases(s)
    assert case.company == "株式会社ブラウザ工業" and case.devices_hint == 8

    page.goto("/login")
    page.fill("#username", "op-a")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    page.goto("/service")
    assert "サービス" in page.inner_text("nav.mainnav")
    _shot(page, "courses")
    page.goto(f"/service/cases/{case.id}")
    assert "お問い合わせ" in page.inner_text(".stage")
    page.fill("#attendees", "鈴木, op-a")
    page.fill("#notes", "端末のみ")
    with page.expect_navigation():
        page.click(f"form[action='/service/cases/{case.id}/meeting'] button")
    assert "打ち合わせ" in page.inner_text(".stage")
    _shot(page, "case")
