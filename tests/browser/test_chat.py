"""The chat in a real browser: a customer chats in the widget on the demo exchange page, the
bot hands off, an agent signs in with TOTP and answers in the console, the customer sees it
with the agent's verified identity (zh and en); the widget survives a server restart; and two
workers on PostgreSQL carry the chat between them (LISTEN/NOTIFY)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from kefu.testing.live import LiveServer
from tests.browser.conftest import LiveServerFactory, _server_env
from tests.browser.helpers import DemoTotp, sign_in_agent

DEMO_ENV = {"KEFU_DEMO_PAGES": "true"}
AGENT = "agent@demo.kefu"  # Tan Wei Ming: support, en and zh-CN
TEXTS = {
    "en": {
        "open": "Chat with support",
        "person": "I want to talk to a human",
        "reply": "Hello, I am checking your deposit now.",
    },
    "zh-CN": {"open": "联系客服", "person": "转人工", "reply": "您好，我正在查看您的充值。"},
}


@pytest.fixture(scope="module")
def chat_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, bot_model_dir: Path
) -> Iterator[LiveServer]:
    """One worker on a seeded SQLite copy with the demo exchange page on."""
    import shutil

    folder = tmp_path_factory.mktemp("live-chat")
    seeded: Path = request.getfixturevalue("_seeded_sqlite")
    shutil.copyfile(seeded, folder / "kefu.db")
    server = LiveServer(
        f"sqlite:///{folder / 'kefu.db'}",
        log_path=folder / "server.log",
        env={**_server_env(bot_model_dir), **DEMO_ENV},
    )
    with server:
        yield server


def open_widget_as_customer(page: Page, base_url: str, language: str) -> tuple[str, str]:
    """On the demo exchange page: pick a demo customer of that language, open the widget;
    returns (the customer's name, the support code the widget shows)."""
    page.goto(f"{base_url}/demo/exchange")
    select = page.locator("#demo-customer")
    option = select.locator("option", has_text=f", {language})").first
    name = option.inner_text().split(" (")[0]
    select.select_option(option.get_attribute("value"))
    page.locator("form.demo-customer button[type=submit]").click()
    page.wait_for_url(re.compile(r".*customer=demo-.*"))
    page.get_by_role("button", name=TEXTS[language]["open"]).click()
    code = page.locator("[data-kefu-code]")
    expect(code).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}$"), timeout=30_000)
    return name, code.inner_text()


def widget_log(page: Page) -> Locator:
    return page.locator(".kefu-log")


def send_in_widget(page: Page, text: str) -> None:
    box = page.locator("#kefu-input")
    box.fill(text)
    box.press("Enter")


def log_seqs(page: Page) -> list[int]:
    values = page.locator(".kefu-log [data-seq]").evaluate_all(
        "items => items.map(i => Number(i.getAttribute('data-seq')))"
    )
    return [int(v) for v in values]


def hand_off(page: Page, language: str) -> None:
    send_in_widget(page, TEXTS[language]["person"])
    expect(widget_log(page).locator(".kefu-system").first).to_contain_text("KF-", timeout=60_000)


def answer_in_console(
    page: Page,
    base_url: str,
    totp: DemoTotp,
    language: str,
    customer_name: str,
    typing_seen: Page | None = None,
) -> None:
    sign_in_agent(page, base_url, AGENT, totp, next_path="/console/chats")
    page.goto(f"{base_url}/console/chats")
    page.locator("table a[href^='/console/chats/']", has_text=customer_name).first.click()
    expect(page.locator("#chat-log")).to_contain_text(TEXTS[language]["person"])
    expect(page.locator(".console-chat[data-live=on]")).to_be_visible(timeout=20_000)
    box = page.locator("#chat-text")
    box.press_sequentially("Hel", delay=30)
    if typing_seen is not None:
        expect(typing_seen.locator(".kefu-typing")).to_contain_text("Tan Wei Ming", timeout=20_000)
    box.fill(TEXTS[language]["reply"])
    page.locator("#chat-reply button[type=submit]").click()
    expect(page.locator("#chat-log")).to_contain_text(TEXTS[language]["reply"], timeout=20_000)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_customer_chats_bot_hands_off_agent_answers(
    chat_server: LiveServer,
    new_page: Callable[..., Page],
    shoot: Callable[[Page, str], Path],
    axe_violations: Callable[..., list[dict[str, Any]]],
    demo_totp: DemoTotp,
    language: str,
) -> None:
    customer = new_page(language)
    name, code = open_widget_as_customer(customer, chat_server.url, language)
    expect(customer.locator("html")).to_have_attribute("lang", language)
    hand_off(customer, language)
    agent = new_page(language)
    answer_in_console(agent, chat_server.url, demo_totp, language, name, typing_seen=customer)
    shoot(agent, f"chat-console-{language}")
    reply = widget_log(customer).locator(".kefu-agent")
    expect(reply).to_contain_text(TEXTS[language]["reply"], timeout=20_000)
    who = customer.locator("[data-kefu-who]")
    expect(who).to_contain_text("Tan Wei Ming")
    expect(who).to_contain_text(re.compile(r"@kefu-[a-z2-9]{6}"))
    assert "@demo.kefu" not in customer.locator(".kefu").inner_text()  # never the email
    assert customer.locator("[data-kefu-code]").inner_text() == code
    assert agent.locator(".chat-meta code").inner_text() == code
    shoot(customer, f"chat-widget-{language}")
    # The support-code check on the exchange page says the code is genuine, and who it is.
    customer.fill("#support-code", code.lower())
    customer.locator(".code-check button[type=submit]").click()
    expect(customer.locator(".code-result .ok")).to_contain_text("Tan Wei Ming")
    customer.get_by_role("button", name=TEXTS[language]["open"]).click()
    expect(customer.locator("#kefu-input")).to_be_focused()
    assert axe_violations(customer) == []


def test_widget_survives_a_server_restart_mid_conversation(
    make_live_server: LiveServerFactory, new_page: Callable[..., Page]
) -> None:
    server = make_live_server("sqlite", env=DEMO_ENV)
    page = new_page("en")
    open_widget_as_customer(page, server.url, "en")
    send_in_widget(page, "hello")
    expect(widget_log(page).locator(".kefu-bot").first).to_be_visible(timeout=60_000)
    answered = widget_log(page).locator(".kefu-bot").count()
    server.stop()
    # Typed while the server is down: kept, shown as sending, resent after the reconnect.
    send_in_widget(page, "what are the withdrawal fees")
    expect(page.locator(".kefu-pending")).to_have_count(1)
    server.start()
    expect(page.locator(".kefu-pending")).to_have_count(0, timeout=90_000)
    expect(page.locator(".kefu-status")).to_have_text("Connected", timeout=30_000)
    expect(widget_log(page).locator(".kefu-bot").nth(answered)).to_be_visible(timeout=60_000)
    texts = widget_log(page).locator(".kefu-customer .kefu-text").all_inner_texts()
    assert texts == ["hello", "what are the withdrawal fees"]  # each once
    seqs = log_seqs(page)
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost, nothing doubled
    # A reload rebuilds the same log from the server.
    page.reload()
    page.get_by_role("button", name="Chat with support").click()
    expect(widget_log(page).locator("[data-seq]")).to_have_count(len(seqs), timeout=30_000)


def test_two_workers_on_postgresql_carry_the_chat(
    make_live_server: LiveServerFactory,
    new_page: Callable[..., Page],
    shoot: Callable[[Page, str], Path],
    demo_totp: DemoTotp,
) -> None:
    first, second = make_live_server.many("postgresql", 2, env=DEMO_ENV)
    customer = new_page("zh-CN")
    name, _ = open_widget_as_customer(customer, first.url, "zh-CN")
    hand_off(customer, "zh-CN")
    agent = new_page("zh-CN")
    answer_in_console(agent, second.url, demo_totp, "zh-CN", name, typing_seen=customer)
    expect(widget_log(customer).locator(".kefu-agent")).to_contain_text(
        TEXTS["zh-CN"]["reply"], timeout=20_000
    )
    # And back: the customer's next message reaches the agent's page on the other worker.
    send_in_widget(customer, "谢谢，我等您。")
    expect(agent.locator("#chat-log")).to_contain_text("谢谢，我等您。", timeout=20_000)
    shoot(customer, "chat-widget-two-workers")
    shoot(agent, "chat-console-two-workers")
