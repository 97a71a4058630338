"""The customer portal in Chromium: a customer arrives by the exchange's signed link, searches
the help articles, reads one, opens a ticket and replies, uploads an ID document — in English
and in Chinese, every page screenshotted and checked with axe-core, and a ticket created with
the keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from kefu.testing.live import LiveServer
from tests.browser.helpers import customer_token

# Demo customers (kefu.demo.seed): the first two dozen speak Chinese, the next ones English.
ZH_CUSTOMER = "demo-100001"
EN_CUSTOMER = "demo-100025"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"passport-scan" * 20

Shoot = Callable[[Page, str], Path]
Axe = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="module", autouse=True)
def _search_ready(live_server: LiveServer) -> None:
    """The first search of a fresh server builds its index and loads the embedding model:
    done once here, so the pages are timed, not the warm-up."""
    response = httpx.get(f"{live_server.url}/portal/help", params={"q": "deposit"}, timeout=300)
    assert response.status_code == 200


def _sign_in(page: Page, server: LiveServer, external_id: str) -> None:
    page.goto(f"{server.url}/portal/sign-in?token={customer_token(external_id)}")
    page.wait_for_url("**/portal/tickets")
    # The token is gone from the address bar and from the history entry.
    assert "token=" not in page.url


def _check(page: Page, shoot: Shoot, axe: Axe, name: str) -> None:
    shoot(page, name)
    assert axe(page) == [], name


def test_a_customer_uses_the_portal_in_english(
    live_server: LiveServer, new_page: Callable[..., Page], shoot: Shoot, axe_violations: Axe
) -> None:
    page = new_page("en")
    _sign_in(page, live_server, EN_CUSTOMER)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main").get_by_role("heading", level=1)).to_have_text("My tickets")
    _check(page, shoot, axe_violations, "portal-tickets-en")

    # The help articles: search, then read the best answer inside the portal.
    page.get_by_role("link", name="Help articles").click()
    page.locator("main").get_by_label("Search the help articles").fill("my account was hacked")
    page.locator("main").get_by_role("button", name="Search").click()
    expect(page.locator("main").get_by_role("heading", level=2)).to_contain_text(
        "my account was hacked"
    )
    _check(page, shoot, axe_violations, "portal-help-search-en")
    page.locator("ol.results a").first.click()
    page.wait_for_url("**/portal/help/en/account-compromised")
    expect(page.locator("article h1")).to_be_visible()
    _check(page, shoot, axe_violations, "portal-article-en")

    # A new ticket, with a field error first, then a reply.
    page.get_by_role("link", name="My tickets").click()
    page.get_by_role("link", name="New ticket").click()
    _check(page, shoot, axe_violations, "portal-ticket-new-en")
    page.locator("main").get_by_label("Subject").fill("Withdrawal stuck")
    page.locator("main").get_by_role("button", name="Send").click()
    expect(page.locator("main").get_by_role("alert")).to_contain_text(
        "Choose what your question is about."
    )
    expect(page.locator("#category")).to_have_attribute("aria-invalid", "true")
    _check(page, shoot, axe_violations, "portal-ticket-new-errors-en")
    page.locator("main").get_by_label("What is it about?").select_option("withdrawal")
    page.locator("main").get_by_label("Describe your problem").fill(
        "My USDT withdrawal has been pending for three hours."
    )
    page.locator("main").get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r".*/portal/tickets/[^/?]+\?created=1$"))
    expect(page.locator("main").get_by_role("status")).to_contain_text("is open")
    page.locator("main").get_by_label("Your message").fill("The transaction id is 0xabc.")
    page.locator("main").get_by_role("button", name="Send reply").click()
    expect(page.locator("#latest")).to_contain_text("The transaction id is 0xabc.")
    _check(page, shoot, axe_violations, "portal-ticket-en")

    # An ID document: choose the kind, upload, submit for review.
    page.get_by_role("link", name="ID documents").click()
    page.locator("main").get_by_label("Passport").check()
    page.locator("main").get_by_label("Files").set_input_files(
        {"name": "passport.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.locator("main").get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("main").get_by_role("status")).to_contain_text("Uploaded.")
    expect(page.get_by_text("passport.png")).to_be_visible()
    page.locator("main").get_by_role("button", name="Submit for review").click()
    expect(page.locator("main").get_by_role("status")).to_contain_text("Submitted.")
    expect(page.locator("table")).to_contain_text("Waiting for review")
    _check(page, shoot, axe_violations, "portal-documents-en")

    page.get_by_role("link", name="Is this really kefu support?").click()
    page.locator("main").get_by_label("Verification code").fill("NOT-A-CODE")
    page.locator("main").get_by_role("button", name="Check").click()
    expect(page.locator("main").get_by_role("status")).to_contain_text("Not genuine")
    _check(page, shoot, axe_violations, "portal-verify-en")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/portal/sign-in?signed_out=1")
    _check(page, shoot, axe_violations, "portal-signed-out-en")
    page.goto(f"{live_server.url}/portal/tickets")
    assert "/portal/sign-in" in page.url


def test_a_chinese_speaking_customer_sees_the_portal_in_chinese(
    live_server: LiveServer, new_page: Callable[..., Page], shoot: Shoot, axe_violations: Axe
) -> None:
    page = new_page("zh-CN")
    _sign_in(page, live_server, ZH_CUSTOMER)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main").get_by_role("heading", level=1)).to_have_text("我的工单")
    _check(page, shoot, axe_violations, "portal-tickets-zh")
    page.get_by_role("link", name="新建工单").click()
    page.locator("main").get_by_label("问题类别").select_option("deposit")
    page.locator("main").get_by_label("主题").fill("USDT 充值未到账")
    page.locator("main").get_by_label("问题描述").fill("已经两个小时了，交易哈希是 0xabc。")
    page.locator("main").get_by_role("button", name="发送").click()
    page.wait_for_url(re.compile(r".*/portal/tickets/[^/?]+\?created=1$"))
    expect(page.locator("main").get_by_role("heading", name="对话")).to_be_visible()
    expect(page.locator("#latest")).to_contain_text("交易哈希")
    _check(page, shoot, axe_violations, "portal-ticket-zh")

    page.get_by_role("link", name="帮助文章").click()
    page.locator("main").get_by_label("搜索帮助文章").fill("充值没到账")
    page.locator("main").get_by_role("button", name="搜索").click()
    page.locator("ol.results a").first.click()
    page.wait_for_url("**/portal/help/zh-CN/deposit-not-credited")
    _check(page, shoot, axe_violations, "portal-article-zh")

    for path, name in (
        ("/portal/tickets/new", "portal-ticket-new-zh"),
        ("/portal/documents", "portal-documents-zh"),
        ("/portal/verify", "portal-verify-zh"),
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        _check(page, shoot, axe_violations, name)

    # The language switch, by the customer's choice.
    page.get_by_label("语言").select_option("en")
    page.get_by_role("button", name="切换").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main").get_by_role("heading", level=1)).to_have_text(
        "Is this really kefu support?"
    )


def test_a_bad_link_gets_a_clear_page(
    live_server: LiveServer, new_page: Callable[..., Page], shoot: Shoot, axe_violations: Axe
) -> None:
    page = new_page("zh-CN")
    response = page.goto(f"{live_server.url}/portal/sign-in?token=forged.token")
    assert response is not None and response.status == 401
    expect(page.locator("main").get_by_role("alert")).to_contain_text("登录链接无效或已过期")
    _check(page, shoot, axe_violations, "portal-bad-link-zh")


def test_a_ticket_is_created_with_the_keyboard_alone(
    live_server: LiveServer, new_page: Callable[..., Page]
) -> None:
    page = new_page("en")
    _sign_in(page, live_server, EN_CUSTOMER)
    page.goto(f"{live_server.url}/portal/tickets/new")

    # The first Tab reaches the skip link, which takes focus to the main content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    def tab_to(selector: str) -> None:
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#category")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    assert page.eval_on_selector("#category", "e => e.value") != ""
    tab_to("#subject")
    page.keyboard.type("Typed with the keyboard")
    tab_to("#message")
    page.keyboard.type("No mouse was used to write this ticket.")
    tab_to("button[type=submit].primary")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/portal/tickets/[^/?]+\?created=1$"))
    expect(page.locator("main").get_by_role("heading", level=1)).to_have_text(
        "Typed with the keyboard"
    )
