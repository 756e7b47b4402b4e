"""A real browser (Debian's chromium via Playwright) against a real uvicorn server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from foundation_db import PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def live_server(app, world) -> Iterator[str]:
    from mamori.cli.runtime import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def page(live_server):
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(base_url=live_server)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def test_login_see_japanese_dashboard_switch_to_english(page, world, live_server):
    page.goto("/")
    assert page.url.endswith("/login")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.fill("#username", "op-a")
    page.fill("#password", "wrong-password")
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    assert "正しくありません" in page.inner_text("[role=alert]")
    page.fill("#username", "op-a")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    assert page.url == f"{live_server}/"
    assert page.inner_text("h1") == "ダッシュボード"
    assert "テナント" in page.inner_text("nav.mainnav")
    page.select_option("#tenant-switch", str(world.tenant_a.id))
    with page.expect_navigation():
        page.click("form.switcher button")
    assert "株式会社エー部品" in page.inner_text(".cards")
    with page.expect_navigation():
        page.click("form.lang button[value=en]")
    assert page.inner_text("h1") == "Dashboard"
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Tenants" in page.inner_text("nav.mainnav")
    with page.expect_navigation():
        page.click("form.logout button")
    assert page.url.endswith("/login")
    assert "Log in" in page.inner_text("h1")
