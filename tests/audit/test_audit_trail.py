"""Every ticket write and every sensitive read leaves an entry in the hash-chained log."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.audit.service import verify
from kefu.identity.models import Role
from tests.core.helpers import audit_actions, audit_entries, new_session, open_ticket
from tests.factories import agent_headers, customer_headers, make_agent, make_customer


def test_ticket_writes_and_reads_are_audited_and_the_chain_holds(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    agent = make_agent(session)
    officer = make_agent(session, Role.RISK_OFFICER)
    agent_h, officer_h = agent_headers(client, agent), agent_headers(client, officer)
    customer_h = customer_headers(customer)
    base = "/api/v1/tickets"

    ticket = open_ticket(client, customer_h, channel="bot", tags=["btc"])
    tid = ticket["id"]
    assert audit_actions(engine, tid) == ["ticket.created"]

    steps = [
        (agent_h, "GET", f"{base}/{tid}", None, ["ticket.read"]),
        (customer_h, "GET", f"{base}/{tid}", None, ["ticket.read"]),
        (agent_h, "GET", f"{base}/{tid}/messages", None, ["ticket.messages_read"]),
        (
            agent_h,
            "POST",
            f"{base}/{tid}/escalate",
            {"reason": "needs a human"},
            ["ticket.escalated"],
        ),
        (agent_h, "POST", f"{base}/{tid}/assign", {"agent_id": agent.id}, ["ticket.assigned"]),
        (
            agent_h,
            "POST",
            f"{base}/{tid}/messages",
            {"body": "hello"},
            ["ticket.status_changed", "ticket.message_added"],
        ),
        (agent_h, "POST", f"{base}/{tid}/tags", {"add": ["eth"]}, ["ticket.tags_changed"]),
        (
            agent_h,
            "POST",
            f"{base}/{tid}/priority",
            {"priority": "urgent", "reason": "vip"},
            ["ticket.priority_changed"],
        ),
        (
            agent_h,
            "POST",
            f"{base}/{tid}/status",
            {"status": "pending_customer"},
            ["ticket.status_changed"],
        ),
        (
            customer_h,
            "POST",
            f"{base}/{tid}/messages",
            {"body": "here is the tx"},
            ["ticket.status_changed", "ticket.message_added"],
        ),
        (
            agent_h,
            "POST",
            f"{base}/{tid}/escalate",
            {"reason": "possible theft"},
            ["ticket.escalated"],
        ),
        (
            officer_h,
            "POST",
            f"{base}/{tid}/status",
            {"status": "solved"},
            ["ticket.status_changed"],
        ),
    ]
    for headers, method, path, body, expected in steps:
        seen = len(audit_actions(engine, tid))
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)
        assert audit_actions(engine, tid)[seen:] == expected, path

    reads = audit_entries(engine, subject_id=tid, action="ticket.read")
    assert [(e.actor_type, e.actor_id) for e in reads] == [
        ("agent", agent.id),
        ("customer", customer.id),
    ]
    escalations = audit_entries(engine, subject_id=tid, action="ticket.escalated")
    assert [(e.data["from"], e.data["to"], e.data["reason"]) for e in escalations] == [
        ("bot", "agent", "needs a human"),
        ("agent", "risk", "possible theft"),
    ]

    # A listing by an agent is a bulk read and is on the record too.
    listed = client.get(base, headers=officer_h).json()["items"]
    bulk = audit_entries(engine, action="ticket.listed")[-1]
    assert (bulk.actor_id, bulk.data["ids"]) == (officer.id, [t["id"] for t in listed])

    with new_session(engine) as s:
        result = verify(s)
    all_entries = audit_entries(engine)
    assert result.ok, result
    assert result.checked == len(all_entries)
    assert [e.seq for e in all_entries] == list(range(1, len(all_entries) + 1))


def test_refused_requests_leave_no_audit_entries(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    agent_h = agent_headers(client, make_agent(session))
    ticket = open_ticket(client, customer_headers(customer))
    tid = ticket["id"]
    before = len(audit_entries(engine))

    refused = [
        ("POST", f"/api/v1/tickets/{tid}/status", {"status": "closed"}),
        ("POST", f"/api/v1/tickets/{tid}/escalate", {"reason": "   "}),
        ("POST", f"/api/v1/tickets/{tid}/de-escalate", {"reason": "x", "to_tier": "risk"}),
        ("GET", "/api/v1/tickets/01900000-0000-7000-8000-000000000000", None),
        ("GET", "/api/v1/customers/nobody", None),
    ]
    for method, path, body in refused:
        response = client.request(method, path, json=body, headers=agent_h)
        assert 400 <= response.status_code < 500, (path, response.text)
    assert len(audit_entries(engine)) == before
