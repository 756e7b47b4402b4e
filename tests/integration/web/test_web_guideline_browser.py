"""A real browser answers an item on the questionnaire and sees the score change."""

from __future__ import annotations

import re

import pytest

from foundation_db import PASSWORD
from tests.integration.web.test_web_browser import live_server, page  # noqa: F401

pytestmark = pytest.mark.browser


def _rate(page, level: int) -> float:  # noqa: F811 - the page fixture
    text = page.inner_text(f"#rate-lv{level}")
    match = re.fullmatch(r"([\d.]+)%", text.strip())
    assert match, text
    return float(match.group(1))


def test_answer_on_questionnaire_changes_the_dashboard(page, world, live_server):  # noqa: F811
    page.goto("/login")
    page.fill("#username", "cadmin-a")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    page.click("nav.mainnav a[href='/guideline']")
    page.wait_for_url("**/guideline")
    assert "ガイドライン" in page.inner_text("h1")
    page.fill("#gl-title", "ブラウザ評価")
    with page.expect_navigation():
        page.click("form[action='/guideline'] button[type=submit]")
    assert re.search(r"/guideline/[0-9a-f]{32}$", page.url), page.url
    dashboard = page.url
    assert _rate(page, 1) == 0.0
    assert page.locator("#level-charts svg").count() == 3

    with page.expect_navigation():
        page.click("a[href$='/labels/1']")
    assert "質問票" in page.inner_text("h1")
    item = page.locator("article.gl-item", has=page.locator("h3", has_text="Lv1")).first
    item_id = item.get_attribute("id")
    item.locator("input[type=radio][value='対策完了']").check()
    item.locator("input[name=owner]").fill("総務部")
    with page.expect_navigation():
        item.locator("form.gl-answer button[type=submit]").click()
    answered = page.locator(f"#{item_id} .gl-status")
    assert answered.get_attribute("data-status") == "対策完了"

    page.goto(dashboard)
    assert _rate(page, 1) > 0.0
    assert "1/" in page.inner_text("table")
