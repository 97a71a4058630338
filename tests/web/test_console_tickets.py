"""The console's ticket pages: the queue (filters, visibility, SLA timers, the rows partial),
the ticket view (conversation with internal notes, reply, note, macros, status, priority,
tags, tier, assignment), the customer panel (masked PII, reveal with a reason, audited),
CSRF refusal, zh and en."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.bot.models import Conversation
from kefu.core.clock import clock, utcnow
from kefu.identity.models import Role
from kefu.identity.pii import mask_email, mask_phone, mask_text
from kefu.kb import service as kb
from kefu.kb.schemas import TemplateCreate
from kefu.sla import service as sla
from kefu.tickets import service as tickets
from kefu.tickets.models import Category, Message, MessageKind, Priority, Ticket
from tests.core.helpers import audit_entries, new_session
from tests.factories import customer_headers, make_agent, make_customer, make_ticket
from tests.web.console_helpers import sign_in


@pytest.fixture(autouse=True)
def _sla_policies(session: Session) -> None:
    """The promises a desk makes out of the box (as `kefu init` creates them)."""
    sla.ensure_default_policies(session)
    session.commit()


def _rows(html: str) -> list[str]:
    """The references listed, in order."""
    return re.findall(r'<a href="/console/tickets/[^"]+">(KF-[0-9A-F]+)</a></td>', html)


def _ticket(engine: Engine, ticket_id: str) -> Ticket:
    with new_session(engine) as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        s.expunge(ticket)
        return ticket


def test_queue_lists_only_visible_tickets_most_urgent_first(
    client: TestClient, session: Session
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    customer = make_customer(session)
    normal = make_ticket(session, customer, subject="Normal question")
    # Security: first response within 1 h (the default policy), so it is the most urgent.
    security = make_ticket(session, customer, Category.SECURITY, subject="Account hacked")
    zh = make_ticket(session, customer, subject="中文问题", language="zh-CN")
    sign_in(client, agent)

    page = client.get("/console/tickets")
    assert page.status_code == 200
    listed = _rows(page.text)
    # The risk ticket is outside this agent's queues, the zh one outside their languages.
    assert listed == [normal.reference]
    assert security.reference not in page.text and zh.reference not in page.text
    assert 'data-rows-url="/console/tickets/rows?' in page.text
    assert '<script src="/static/console/tickets.js" defer></script>' in page.text
    # Each row carries its deadlines as machine-readable attributes, and says its state.
    timer = re.search(r'<span class="sla-timer sla-ok" data-due="([^"]+)"', page.text)
    assert timer is not None, page.text[page.text.find("<tbody") :][:1500]
    assert "On track · due in" in page.text

    supervisor = make_agent(session, role=Role.SUPERVISOR)
    with TestClient(client.app) as other:
        sign_in(other, supervisor)
        listed = _rows(other.get("/console/tickets").text)
        assert listed[0] == security.reference
        assert set(listed) == {normal.reference, security.reference, zh.reference}


def test_queue_filters_and_search(client: TestClient, session: Session) -> None:
    supervisor = make_agent(session, role=Role.SUPERVISOR)
    customer = make_customer(session)
    login = make_ticket(session, customer, subject="Cannot log in", priority=Priority.HIGH)
    deposit = make_ticket(session, customer, Category.DEPOSIT, subject="Deposit missing")
    zh = make_ticket(session, customer, subject="提现问题", language="zh-CN")
    risk = make_ticket(session, customer, Category.SECURITY, subject="Stolen funds")
    sign_in(client, supervisor)
    tickets.assign(session, session.get(Ticket, deposit.id), supervisor, Actor.system())  # type: ignore[arg-type]
    session.commit()

    def listed(query: str) -> set[str]:
        response = client.get(f"/console/tickets?{query}")
        assert response.status_code == 200, response.text
        return set(_rows(response.text))

    assert listed("priority=high") == {login.reference, risk.reference}
    assert listed("team=risk") == {risk.reference}
    assert listed("tier=risk") == {risk.reference}
    assert listed("language=zh-CN") == {zh.reference}
    assert listed("assignee=mine") == {deposit.reference}
    assert deposit.reference not in listed("assignee=unassigned")
    assert listed("q=deposit") == {deposit.reference}
    assert listed(f"q={login.reference.lower()}") == {login.reference}
    assert listed("q=提现") == {zh.reference}
    assert listed("sla=breached") == set()
    assert len(listed("sla=ok")) == 4
    assert listed("status=solved") == set()
    # Later, the 1-hour security target is missed: that ticket shows as breached.
    clock.freeze(utcnow() + timedelta(hours=2))
    assert listed("sla=breached") == {risk.reference}
    assert "Breached · overdue by" in client.get("/console/tickets?sla=breached").text
    clock.unfreeze()
    # A value a filter does not know is a clear 400 page, not a 500.
    bad = client.get("/console/tickets?priority=whenever")
    assert bad.status_code == 400
    assert "whenever" in bad.text


def test_queue_pages_and_rows_partial(client: TestClient, session: Session) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    customer = make_customer(session)
    made = [make_ticket(session, customer, subject=f"Question {n}") for n in range(27)]
    sign_in(client, agent)
    first = client.get("/console/tickets?sort=newest")
    assert _rows(first.text) == [t.reference for t in reversed(made)][:25]
    assert 'rel="next"' in first.text
    second = client.get("/console/tickets?sort=newest&page=2")
    assert _rows(second.text) == [made[1].reference, made[0].reference]
    partial = client.get("/console/tickets/rows?sort=newest&page=2")
    assert partial.status_code == 200
    assert partial.headers["X-Kefu-Partial"] == "ticket-rows"
    assert partial.text.lstrip().startswith("<tr")
    assert "<html" not in partial.text
    assert _rows(partial.text) == [made[1].reference, made[0].reference]


def test_an_agent_cannot_open_a_ticket_outside_their_queues(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    customer = make_customer(session, email="secret.person@example.com")
    risk = make_ticket(session, customer, Category.SECURITY, subject="Hacked account")
    csrf = sign_in(client, agent)
    page = client.get(f"/console/tickets/{risk.id}")
    assert page.status_code == 404
    assert "Hacked account" not in page.text and "secret" not in page.text
    for action, data in (
        ("reply", {"body": "hi"}),
        ("note", {"body": "hi"}),
        ("assign", {"action": "me"}),
        ("reveal", {"field": "email", "reason": "curious"}),
    ):
        refused = client.post(
            f"/console/tickets/{risk.id}/{action}", data={**data, "csrf_token": csrf}
        )
        assert refused.status_code == 404, action
        assert "secret" not in refused.text
    with new_session(engine) as s:
        assert s.scalars(select(Message).where(Message.ticket_id == risk.id)).all()[1:] == []
    assert client.get("/console/tickets/not-a-ticket").status_code == 404


def test_reply_and_internal_note_and_the_customer_never_sees_the_note(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    customer = make_customer(session)
    ticket = make_ticket(session, customer)
    csrf = sign_in(client, agent)
    sent = client.post(
        f"/console/tickets/{ticket.id}/reply",
        data={"body": "Please reset your password.", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    noted = client.post(
        f"/console/tickets/{ticket.id}/note",
        data={"body": "Customer sounded unsure; check logins.", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert noted.status_code == 303
    page = client.get(f"/console/tickets/{ticket.id}")
    assert "Please reset your password." in page.text
    assert 'class="message message-internal_note"' in page.text
    assert "Internal note — never shown to the customer" in page.text
    # The first reply opened the ticket and met its first-response target.
    assert _ticket(engine, ticket.id).status == "open"
    assert _ticket(engine, ticket.id).first_responded_at is not None
    # The customer's API never carries the note.
    messages = client.get(
        f"/api/v1/tickets/{ticket.id}/messages", headers=customer_headers(customer)
    ).json()
    assert [m["body"] for m in messages] == [
        "My password does not work",
        "Please reset your password.",
    ]
    kinds = [e.data.get("kind") for e in audit_entries(engine, action="ticket.message_added")]
    assert kinds == [MessageKind.AGENT, MessageKind.INTERNAL_NOTE]
    # An empty reply is refused on the page with its reason.
    empty = client.post(
        f"/console/tickets/{ticket.id}/reply", data={"body": "  ", "csrf_token": csrf}
    )
    assert empty.status_code == 400
    assert "A message cannot be empty." in empty.text


def test_forms_without_a_valid_csrf_token_are_refused(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    ticket = make_ticket(session, make_customer(session))
    sign_in(client, agent)
    for action, data in (
        ("reply", {"body": "hello"}),
        ("note", {"body": "hello"}),
        ("assign", {"action": "me"}),
        ("status", {"status": "solved"}),
        ("tier", {"direction": "up", "reason": "x"}),
        ("reveal", {"field": "email", "reason": "x"}),
        ("macro", {"template_id": "x"}),
    ):
        for token in (None, "forged"):
            form = dict(data) if token is None else {**data, "csrf_token": token}
            refused = client.post(f"/console/tickets/{ticket.id}/{action}", data=form)
            assert refused.status_code == 403, (action, token)
    with new_session(engine) as s:
        assert len(s.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()) == 1
    assert audit_entries(engine, action="customer.pii_revealed") == []


def test_status_priority_tags_tier_and_assignment(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    peer = make_agent(session, teams=["support"], languages=["en"], display_name="Peer Agent")
    customer = make_customer(session)
    ticket = make_ticket(session, customer)
    csrf = sign_in(client, agent)
    url = f"/console/tickets/{ticket.id}"

    def post(what: str, **data: str) -> object:
        return client.post(f"{url}/{what}", data={**data, "csrf_token": csrf})

    assert post("assign", action="me").status_code == 200  # type: ignore[attr-defined]
    assert _ticket(engine, ticket.id).assignee_id == agent.id
    # Assigning to someone else needs tickets.assign_others.
    refused = post("assign", action="assign", agent_id=peer.id)
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert _ticket(engine, ticket.id).assignee_id == agent.id
    post("priority", priority="urgent")
    post("tags", tags="VIP, login ,  2fa")
    post("status", status="pending_customer", reason="asked for screenshot")
    saved = _ticket(engine, ticket.id)
    assert (saved.priority, saved.status) == ("urgent", "pending_customer")
    page = client.get(url)
    assert "2fa, login, vip" in page.text
    assert "asked for screenshot" in page.text
    # A status the lifecycle does not allow is refused with its reason, nothing changes.
    closed = post("status", status="closed")
    assert closed.status_code == 409  # type: ignore[attr-defined]
    # Escalation needs a reason; to risk, the ticket leaves this agent's queues.
    no_reason = post("tier", direction="up", reason=" ")
    assert no_reason.status_code == 400  # type: ignore[attr-defined]
    assert "A reason is required." in no_reason.text  # type: ignore[attr-defined]
    up = client.post(
        f"{url}/tier",
        data={"direction": "up", "reason": "possible takeover", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert up.status_code == 303 and up.headers["location"] == "/console/tickets"
    assert _ticket(engine, ticket.id).tier == "risk"
    assert client.get(url).status_code == 404
    kinds = [e.kind for e in tickets.list_events(session, session.get(Ticket, ticket.id))]  # type: ignore[arg-type]
    assert kinds == [
        "created",
        "assigned",
        "priority_changed",
        "tags_changed",
        "status_changed",
        "escalated",
    ]

    supervisor = make_agent(session, role=Role.SUPERVISOR)
    with TestClient(client.app) as other:
        token = sign_in(other, supervisor)
        down = other.post(
            f"{url}/tier", data={"direction": "down", "reason": "false alarm", "csrf_token": token}
        )
        assert down.status_code == 200, down.text
        assert _ticket(engine, ticket.id).tier == "agent"
        moved = other.post(
            f"{url}/assign", data={"action": "assign", "agent_id": peer.id, "csrf_token": token}
        )
        assert moved.status_code == 200
        assert _ticket(engine, ticket.id).assignee_id == peer.id


def test_customer_panel_masks_pii_and_reveal_is_audited(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    customer = make_customer(
        session, display_name="Alice Tan", email="alice.tan@example.com", phone="+6591234567"
    )
    ticket = make_ticket(session, customer)
    other = make_ticket(session, customer, subject="Older question")
    csrf = sign_in(client, agent)
    page = client.get(f"/console/tickets/{ticket.id}")
    assert "a***@example.com" in page.text and "+65 ****-4567" in page.text
    assert "A**** T**" in page.text
    assert "alice.tan@example.com" not in page.text and "91234567" not in page.text
    assert "Alice Tan" not in page.text
    assert other.reference in page.text

    no_reason = client.post(
        f"/console/tickets/{ticket.id}/reveal",
        data={"field": "email", "reason": "  ", "csrf_token": csrf},
    )
    assert no_reason.status_code == 400
    assert "alice.tan@example.com" not in no_reason.text
    bad_field = client.post(
        f"/console/tickets/{ticket.id}/reveal",
        data={"field": "password", "reason": "x", "csrf_token": csrf},
    )
    assert bad_field.status_code == 400
    assert audit_entries(engine, action="customer.pii_revealed") == []

    shown = client.post(
        f"/console/tickets/{ticket.id}/reveal",
        data={"field": "email", "reason": "customer asked to confirm address", "csrf_token": csrf},
    )
    assert shown.status_code == 200
    assert "alice.tan@example.com" in shown.text
    assert "+65 ****-4567" in shown.text  # the other fields stay masked
    assert shown.headers["Cache-Control"] == "no-store"
    (entry,) = audit_entries(engine, action="customer.pii_revealed")
    assert (entry.actor_type, entry.actor_id, entry.subject_id) == ("agent", agent.id, customer.id)
    assert entry.data["field"] == "email"
    assert entry.data["reason"] == "customer asked to confirm address"
    assert "alice.tan@example.com" not in str(entry.data)
    # For that response only: the next page masks it again.
    assert "alice.tan@example.com" not in client.get(f"/console/tickets/{ticket.id}").text


def test_masking_rules() -> None:
    assert mask_email("bob@example.org") == "b***@example.org"
    assert mask_email("not-an-email") == "n***********"
    assert mask_phone("+6591234567") == "+65 ****-4567"
    assert mask_phone("+12025550123") == "+1 ****-0123"
    assert mask_phone("+85291234567") == "+852 ****-4567"
    assert mask_phone("12") == "****"
    assert mask_text("张三") == "张*"


def _macro(session: Session, body: str, language: str = "en", key: str = "greet") -> str:
    template = kb.create_template(
        session,
        TemplateCreate(key=key, language=language, title=f"Macro {key}", body=body),
        Actor.system(),
    )
    session.commit()
    return template.id


def test_macro_renders_with_the_tickets_variables_into_the_reply_box(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    customer = make_customer(session, display_name="Bob Lee")
    ticket = make_ticket(session, customer)
    greet = _macro(session, "Hello {{ customer_name }}, about {{ ticket_id }}.")
    deposit = _macro(session, "Your {{ asset }} deposit has arrived.", key="deposit")
    unsafe = _macro(session, "{{ ''.__class__ }}", key="unsafe")
    csrf = sign_in(client, agent)
    url = f"/console/tickets/{ticket.id}/macro"
    page = client.post(url, data={"template_id": greet, "csrf_token": csrf})
    assert page.status_code == 200
    box = re.search(r'<textarea id="reply-body"[^>]*>([^<]*)</textarea>', page.text)
    assert box is not None
    assert box.group(1) == f"Hello Bob Lee, about {ticket.reference}."
    # What the agent already typed in the reply box stays, the macro goes after it.
    typed = client.post(
        url, data={"template_id": greet, "body": "Thanks for waiting.", "csrf_token": csrf}
    )
    assert f"Thanks for waiting.\n\nHello Bob Lee, about {ticket.reference}." in typed.text
    # A variable the ticket does not have is an error naming it, never a blank.
    missing = client.post(url, data={"template_id": deposit, "csrf_token": csrf})
    assert missing.status_code == 422
    assert "The template needs values for: asset." in missing.text
    filled = client.post(
        url, data={"template_id": deposit, "extra": "asset=USDT", "csrf_token": csrf}
    )
    assert "Your USDT deposit has arrived." in filled.text
    refused = client.post(url, data={"template_id": unsafe, "csrf_token": csrf})
    assert refused.status_code in (400, 422)
    assert "template_unsafe" in refused.text or "template_" in refused.text
    # Nothing was sent to the customer by previewing.
    with new_session(engine) as s:
        assert len(s.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()) == 1


def test_ticket_pages_in_chinese(client: TestClient, session: Session) -> None:
    agent = make_agent(session, teams=["support"], languages=["zh-CN"], language="zh-CN")
    customer = make_customer(session, language="zh-CN")
    ticket = make_ticket(session, customer, subject="无法登录")
    csrf = sign_in(client, agent)
    queue = client.get("/console/tickets")
    assert queue.headers["Content-Language"] == "zh-CN"
    assert "工单" in queue.text and "无法登录" in queue.text
    view = client.get(f"/console/tickets/{ticket.id}")
    assert "内部备注" in view.text and "回复客户" in view.text
    noted = client.post(
        f"/console/tickets/{ticket.id}/note", data={"body": "内部", "csrf_token": csrf}
    )
    assert noted.status_code == 200
    assert "内部备注" in noted.text


def test_a_ticket_from_a_bot_conversation_links_to_its_live_chat(
    client: TestClient, session: Session
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    customer = make_customer(session)
    from_chat = make_ticket(session, customer, subject="From the chat")
    by_mail = make_ticket(session, customer, subject="By mail")
    conversation = Conversation(
        customer_id=customer.id, language="en", status="handed_off", ticket_id=from_chat.id
    )
    session.add(conversation)
    session.commit()
    sign_in(client, agent)
    page = client.get(f"/console/tickets/{from_chat.id}")
    assert f'<a href="/console/chats/{conversation.id}">Live chat</a>' in page.text
    assert "/console/chats/" not in client.get(f"/console/tickets/{by_mail.id}").text
