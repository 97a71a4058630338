"""The demo desk: what a person signing in to `kefu demo` expects to find."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kefu.audit.models import AuditEntry
from kefu.audit.service import verify
from kefu.cli import app as cli_app
from kefu.core.clock import clock
from kefu.core.db import session_factory
from kefu.demo.seed import ADMIN_EMAIL, DEMO_PASSWORD, demo_totp_secret, seed_demo
from kefu.identity.models import Agent, Customer, Role
from kefu.sla.models import BusinessCalendar, SlaPolicy, TicketSla
from kefu.tickets.models import Category, Message, MessageKind, Status, Ticket
from tests.factories import sign_in
from tests.web.console_helpers import csrf_from

TICKETS = 60


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_seed_creates_a_lived_in_desk(session: Session) -> None:
    report = seed_demo(session, tickets=TICKETS)
    session.commit()

    roles = set(session.scalars(select(Agent.role)))
    assert roles == {r.value for r in Role}
    assert ADMIN_EMAIL in report and DEMO_PASSWORD in report
    assert "http://" in report and "/docs" in report

    customers = session.scalars(select(Customer)).all()
    assert len(customers) >= 50
    assert {"SG", "DE"} <= {c.jurisdiction for c in customers}
    assert {"zh-CN", "en"} == {c.language for c in customers}

    tickets = session.scalars(select(Ticket)).all()
    assert len(tickets) >= TICKETS
    assert {t.language for t in tickets} == {"zh-CN", "en"}
    assert {t.category for t in tickets} == {c.value for c in Category}
    assert len({t.status for t in tickets}) >= 4
    assert any(t.assignee_id for t in tickets)
    # The clock was frozen in the past while tickets were opened, and released afterwards.
    ages = [clock.now() - t.created_at for t in tickets]
    assert max(ages).days >= 5
    before = clock.now()
    time.sleep(0.002)
    assert clock.now() > before

    # Invariant 5: asset security lives in the risk queue, whatever else happened to it.
    for ticket in tickets:
        if ticket.category == Category.SECURITY or ticket.asset_related:
            assert (ticket.team, ticket.tier) == ("risk", "risk"), ticket.subject

    kinds = set(session.scalars(select(Message.kind)))
    assert {MessageKind.CUSTOMER, MessageKind.AGENT, MessageKind.INTERNAL_NOTE} <= kinds
    assert _count(session, BusinessCalendar) == 2
    policies = session.scalars(select(SlaPolicy).order_by(SlaPolicy.position)).all()
    assert policies[0].categories == ["security"]
    assert _count(session, TicketSla) == len(tickets)
    assert verify(session).ok


def test_seed_is_idempotent(session: Session) -> None:
    seed_demo(session, tickets=20)
    session.commit()
    before = (_count(session, Ticket), _count(session, AuditEntry), _count(session, Agent))

    report = seed_demo(session, tickets=20)
    session.commit()

    assert "nothing created" in report
    assert (_count(session, Ticket), _count(session, AuditEntry), _count(session, Agent)) == before
    assert verify(session).ok


def test_demo_agents_can_sign_in_and_see_their_queues(session: Session, client: TestClient) -> None:
    seed_demo(session, tickets=30)
    session.commit()

    agent = session.scalars(select(Agent).where(Agent.email == "wang.fang@demo.kefu")).one()
    session.commit()  # end the read: SQLite's BEGIN IMMEDIATE would hold the write lock
    # Demo agents have their authenticator set up with the published demo key.
    headers = sign_in(client, agent, session_factory(session.get_bind()), password=DEMO_PASSWORD)  # type: ignore[arg-type]
    page = client.get("/api/v1/tickets", params={"limit": 200}, headers=headers).json()
    assert page["items"]
    # A zh-CN support agent sees only zh-CN support tickets (or ones assigned to them).
    for item in page["items"]:
        assert item["queue"] == "support:zh-CN" or item["assignee_id"] is not None
    assert {i["status"] for i in page["items"]} - {s.value for s in Status} == set()


def test_demo_agents_sign_in_to_the_console_with_the_demo_code(
    session: Session, client: TestClient
) -> None:
    report = seed_demo(session, tickets=10)
    session.commit()
    assert "kefu mfa demo-code EMAIL" in report
    assert demo_totp_secret("risk@demo.kefu") in report

    result = CliRunner().invoke(cli_app, ["mfa", "demo-code", "risk@demo.kefu"])
    assert result.exit_code == 0, result.output
    code = re.findall(r"^\d{6}$", result.output, re.MULTILINE)[0]
    page = client.get("/console/sign-in")
    signed_in = client.post(
        "/console/sign-in",
        data={
            "email": "risk@demo.kefu",
            "password": DEMO_PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert signed_in.headers["location"] == "/console/sign-in/verify"
    verify_page = client.get("/console/sign-in/verify")
    verified = client.post(
        "/console/sign-in/verify",
        data={"code": code, "factor": "totp", "csrf_token": csrf_from(verify_page.text)},
        follow_redirects=False,
    )
    assert verified.status_code == 303, verified.text
    assert "Marcus Weber" in client.get("/console").text

    refused = CliRunner().invoke(cli_app, ["mfa", "demo-code", "someone@example.com"])
    assert refused.exit_code == 1
