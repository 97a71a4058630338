"""The agent console in Chromium: an agent signs in with password + authenticator code, sees
the queue with running SLA timers, opens a ticket, replies, adds an internal note, reveals a
masked field with a reason; an agent outside the risk queue is refused a risk ticket; the
sign-in and the reply work with the keyboard alone; zh and en; screenshots and axe checks
of the queue, the ticket, the customer panel and the chain check."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from kefu.core.db import make_engine, session_scope
from kefu.demo.seed import DEMO_PASSWORD
from kefu.testing.live import LiveServer
from kefu.tickets.models import Status, Team, Ticket
from tests.browser.helpers import DemoTotp, sign_in_agent

Axe = Callable[..., list[dict[str, Any]]]
Shoot = Callable[[Page, str], Path]

# The agent who works the queue in each language (the console speaks the agent's language).
AGENTS = {"en": "agent@demo.kefu", "zh-CN": "wang.fang@demo.kefu"}
TEXT = {
    "en": {
        "queue": "Tickets",
        "reply": "Send reply",
        "note": "Add internal note",
        "note_label": "Internal note — never shown to the customer",
        "reveal": "Reveal",
        "refused": "Cannot show this page",
        "chain": "Check transaction",
    },
    "zh-CN": {
        "queue": "工单",
        "reply": "发送回复",
        "note": "添加内部备注",
        "note_label": "内部备注——绝不向客户显示",
        "reveal": "显示",
        "refused": "无法显示此页面",
        "chain": "核查交易",
    },
}


def _tickets(server: LiveServer, *where: Any) -> list[Ticket]:
    engine = make_engine(server.database_url)
    try:
        with session_scope(engine) as session:
            found = list(session.scalars(select(Ticket).where(*where).order_by(Ticket.id)))
            for ticket in found:
                session.expunge(ticket)
            return found
    finally:
        engine.dispose()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_agent_works_a_ticket_from_the_queue(
    live_server: LiveServer,
    new_page: Callable[..., Page],
    demo_totp: DemoTotp,
    shoot: Shoot,
    axe_violations: Axe,
    lang: str,
) -> None:
    text = TEXT[lang]
    page = new_page(lang)
    sign_in_agent(page, live_server.url, AGENTS[lang], demo_totp)
    page.get_by_role("navigation").get_by_role("link", name=text["queue"], exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    rows = page.locator("#ticket-rows tr.ticket-row")
    expect(rows.first).to_be_visible()
    # Every timer carries its deadline; the script counts down and changes state with text:
    # a deadline two seconds away turns from "at risk" to "breached" before our eyes.
    timer = page.locator('.sla-timer[data-running="true"]').first
    expect(timer).to_have_attribute("data-due", re.compile(r"^\d{4}-\d\d-\d\dT"))
    timer.evaluate(
        "el => { el.dataset.due = new Date(Date.now() + 2500).toISOString();"
        " el.dataset.atRisk = '3600'; }"
    )
    strings = page.locator("#sla-strings")
    at_risk = strings.get_attribute("data-at-risk") or ""
    breached = strings.get_attribute("data-breached") or ""
    expect(timer.locator(".sla-text")).to_contain_text(at_risk)
    expect(timer).to_have_attribute("data-state", "at_risk")
    expect(timer.locator(".sla-text")).to_contain_text(breached, timeout=6000)
    expect(timer).to_have_class(re.compile(r"\bsla-breached\b"))
    page.reload()
    shoot(page, f"console-queue-{lang}")
    assert axe_violations(page) == []

    page.locator("#ticket-rows tr.ticket-row a").first.click()
    page.wait_for_url("**/console/tickets/*")
    reply = f"Reply from the browser ({lang})"
    page.fill("#reply-body", reply)
    page.get_by_role("button", name=text["reply"]).click()
    expect(page.locator(".conversation .message-agent").last).to_contain_text(reply)
    note = f"Note only agents see ({lang})"
    page.fill("#note-body", note)
    page.get_by_role("button", name=text["note"]).click()
    last_note = page.locator(".conversation .message-internal_note").last
    expect(last_note).to_contain_text(note)
    expect(last_note).to_contain_text(text["note_label"])
    shoot(page, f"console-ticket-{lang}")
    assert axe_violations(page) == []

    masked = page.locator('.customer-panel dd[data-field="email"]')
    expect(masked).to_contain_text("***@")
    page.select_option("#reveal-field", "email")
    page.fill("#reveal-reason", "customer asked which address is on file")
    page.get_by_role("button", name=text["reveal"], exact=True).click()
    expect(masked).not_to_contain_text("***")
    expect(masked).to_have_class(re.compile(r"\brevealed\b"))
    page.locator(".customer-panel").scroll_into_view_if_needed()
    shoot(page, f"console-customer-panel-{lang}")
    assert axe_violations(page) == []


def test_the_queue_refreshes_its_rows_without_a_reload(
    live_server: LiveServer, new_page: Callable[..., Page], demo_totp: DemoTotp
) -> None:
    page = new_page()
    sign_in_agent(page, live_server.url, "supervisor@demo.kefu", demo_totp, "/console/tickets")
    page.wait_for_url("**/console/tickets")
    page.locator("#ticket-rows").evaluate("el => el.dataset.marker = 'kept'")
    # The page itself stays (the marker on the table body survives); its rows are re-fetched.
    expect(page.locator("#rows-updated")).not_to_be_empty(timeout=40_000)
    assert page.locator("#ticket-rows").get_attribute("data-marker") == "kept"
    expect(page.locator("#ticket-rows tr.ticket-row").first).to_be_visible()


@pytest.mark.parametrize(
    ("lang", "email"), [("en", "agent@demo.kefu"), ("zh-CN", "li.na@demo.kefu")]
)
def test_an_agent_outside_the_risk_queue_is_refused_a_risk_ticket(
    live_server: LiveServer,
    new_page: Callable[..., Page],
    demo_totp: DemoTotp,
    shoot: Shoot,
    lang: str,
    email: str,
) -> None:
    risk = _tickets(live_server, Ticket.team == Team.RISK, Ticket.status != Status.CLOSED)
    assert risk, "the demo data has risk tickets"
    ticket = risk[0]
    page = new_page(lang)
    sign_in_agent(page, live_server.url, email, demo_totp)
    response = page.goto(f"{live_server.url}/console/tickets/{ticket.id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text(TEXT[lang]["refused"])
    assert ticket.subject not in page.content()
    # Nor does the queue list it.
    page.goto(f"{live_server.url}/console/tickets?status=all&team=risk")
    assert ticket.reference not in page.content()
    shoot(page, f"console-refused-{lang}")


def _tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Presses Tab until the element has the focus, as a keyboard user would."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_sign_in_and_reply_with_the_keyboard_alone(
    live_server: LiveServer, new_page: Callable[..., Page], demo_totp: DemoTotp
) -> None:
    email = "daniel.lim@demo.kefu"
    page = new_page()
    page.goto(f"{live_server.url}/console/sign-in")
    page.keyboard.press("Tab")
    skip = page.evaluate("document.activeElement.className")
    assert skip == "skip-link"
    _tab_to(page, "#email")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/sign-in/verify**")
    _tab_to(page, "#code")
    page.keyboard.type(demo_totp(email))
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/sign-in" not in url)

    ticket = next(
        t
        for t in _tickets(live_server, Ticket.team == Team.SUPPORT, Ticket.language == "en")
        if t.status in ("new", "open", "pending_internal")
    )
    page.goto(f"{live_server.url}/console/tickets/{ticket.id}")
    _tab_to(page, "#reply-body", limit=80)
    page.keyboard.type("Typed with the keyboard only.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Send reply"
    # The focus ring is visible (not removed by the stylesheet).
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    expect(page.locator(".conversation .message-agent").last).to_contain_text(
        "Typed with the keyboard only."
    )


@pytest.mark.parametrize(
    ("lang", "email"), [("en", "agent@demo.kefu"), ("zh-CN", "wang.fang@demo.kefu")]
)
def test_chain_check_page(
    live_server: LiveServer,
    new_page: Callable[..., Page],
    demo_totp: DemoTotp,
    shoot: Shoot,
    axe_violations: Axe,
    lang: str,
    email: str,
) -> None:
    page = new_page(lang)
    sign_in_agent(page, live_server.url, email, demo_totp, "/console/chain")
    page.wait_for_url("**/console/chain")
    page.select_option("#chain-name", "bitcoin")
    page.fill("#chain-txid", "not-a-transaction-hash")
    page.get_by_role("button", name=TEXT[lang]["chain"]).click()
    expect(page.get_by_role("alert")).to_contain_text("malformed_txid")
    expect(page.locator("#chain-txid")).to_have_value("not-a-transaction-hash")
    shoot(page, f"console-chain-{lang}")
    assert axe_violations(page) == []
