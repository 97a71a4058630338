"""The browser harness itself: kefu served by real processes, seen through Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from kefu.testing.live import LiveServer
from tests.browser.conftest import LiveServerFactory
from tests.browser.helpers import DemoTotp, sign_in_agent


def test_sign_in_page_in_both_languages_is_accessible_and_keeps_its_csp(
    live_server: LiveServer,
    new_page: Callable[..., Page],
    shoot: Callable[[Page, str], Path],
    axe_violations: Callable[..., list[dict[str, Any]]],
) -> None:
    for locale, lang, heading in (("en", "en", "Sign in"), ("zh-CN", "zh-CN", "登录")):
        page = new_page(locale)
        response = page.goto(f"{live_server.url}/console/sign-in")
        assert response is not None and response.ok
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        shoot(page, f"harness-sign-in-{lang}")
        assert axe_violations(page) == []


def test_agent_signs_in_with_password_and_authenticator_code(
    live_server: LiveServer, new_page: Callable[..., Page], demo_totp: DemoTotp
) -> None:
    page = new_page()
    sign_in_agent(page, live_server.url, "agent@demo.kefu", demo_totp)
    assert page.url.rstrip("/").endswith("/console")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_restart_keeps_the_session_and_its_data(
    make_live_server: LiveServerFactory,
    new_page: Callable[..., Page],
    demo_totp: DemoTotp,
) -> None:
    server = make_live_server("sqlite")
    page = new_page()
    sign_in_agent(page, server.url, "supervisor@demo.kefu", demo_totp)
    server.restart()
    page.goto(f"{server.url}/console")
    assert "/sign-in" not in page.url


def test_two_workers_share_one_postgresql_database(
    pg_live_servers: tuple[LiveServer, LiveServer],
    new_page: Callable[..., Page],
    demo_totp: DemoTotp,
) -> None:
    first, second = pg_live_servers
    assert first.port != second.port
    page = new_page()
    sign_in_agent(page, first.url, "admin@demo.kefu", demo_totp)
    # The cookie is for 127.0.0.1 on any port: the other worker knows the session.
    page.goto(f"{second.url}/console")
    assert "/sign-in" not in page.url
    assert httpx.get(f"{second.url}/healthz").status_code == 200


def test_the_accessibility_check_finds_what_is_wrong(
    new_page: Callable[..., Page], axe_violations: Callable[..., list[dict[str, Any]]]
) -> None:
    page = new_page()
    page.set_content(
        '<html lang="en"><body><main><img src="data:,"><input type="text"></main></body></html>'
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"image-alt", "label"} <= found
