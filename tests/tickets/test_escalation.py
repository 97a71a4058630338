"""Tier escalation and de-escalation: always with a reason, always in the history."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.identity.models import Role
from tests.core.helpers import (
    assert_problem,
    audit_entries,
    get_ticket,
    open_ticket,
    snapshot,
)
from tests.factories import agent_headers, customer_headers, make_agent, make_customer


def _escalate(client: TestClient, headers: dict[str, str], ticket_id: str, **body: object):
    return client.post(f"/api/v1/tickets/{ticket_id}/escalate", json=body, headers=headers)


def _de_escalate(client: TestClient, headers: dict[str, str], ticket_id: str, **body: object):
    return client.post(f"/api/v1/tickets/{ticket_id}/de-escalate", json=body, headers=headers)


def _events(client: TestClient, headers: dict[str, str], ticket_id: str) -> list[dict]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/events", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_bot_to_agent_to_risk_with_reasons_in_the_history(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    agent = make_agent(session)
    supervisor = make_agent(session, Role.SUPERVISOR)
    agent_h = agent_headers(client, agent)
    supervisor_h = agent_headers(client, supervisor)
    ticket = open_ticket(client, customer_headers(customer), channel="bot", category="account")
    assert (ticket["tier"], ticket["team"]) == ("bot", "support")

    to_agent = _escalate(client, agent_h, ticket["id"], reason="bot could not verify identity")
    assert to_agent.status_code == 200, to_agent.text
    assert (to_agent.json()["tier"], to_agent.json()["team"]) == ("agent", "support")

    assigned = client.post(
        f"/api/v1/tickets/{ticket['id']}/assign", json={"agent_id": agent.id}, headers=agent_h
    )
    assert assigned.json()["assignee_id"] == agent.id

    to_risk = _escalate(client, agent_h, ticket["id"], reason="  unknown device login  ")
    assert to_risk.status_code == 200, to_risk.text
    risk = to_risk.json()
    assert (risk["tier"], risk["team"], risk["queue"]) == ("risk", "risk", "risk:en")
    assert risk["assignee_id"] is None
    # The support agent no longer serves the ticket's queue.
    assert_problem(client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent_h), 404, "not_found")

    moves = [
        (e["kind"], e["from_value"], e["to_value"], e["reason"], e["actor_id"])
        for e in _events(client, supervisor_h, ticket["id"])
        if e["kind"] in ("escalated", "de_escalated")
    ]
    assert moves == [
        ("escalated", "bot", "agent", "bot could not verify identity", agent.id),
        ("escalated", "agent", "risk", "unknown device login", agent.id),
    ]
    audited = audit_entries(engine, subject_id=ticket["id"], action="ticket.escalated")
    assert [e.data["reason"] for e in audited] == [
        "bot could not verify identity",
        "unknown device login",
    ]

    before = snapshot(engine)
    beyond = _escalate(client, supervisor_h, ticket["id"], reason="even higher")
    assert_problem(beyond, 409, "tier_limit")
    assert snapshot(engine) == before


def test_escalation_without_a_reason_is_refused(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    agent_h = agent_headers(client, make_agent(session))
    ticket = open_ticket(client, customer_headers(customer), channel="bot")
    before = snapshot(engine)

    assert_problem(_escalate(client, agent_h, ticket["id"]), 422, "validation_error")
    assert_problem(_escalate(client, agent_h, ticket["id"], reason=""), 422, "validation_error")
    assert_problem(_escalate(client, agent_h, ticket["id"], reason=" \t "), 400, "reason_required")
    assert_problem(
        _de_escalate(client, agent_h, ticket["id"], reason="   "), 400, "reason_required"
    )

    assert snapshot(engine) == before
    assert get_ticket(client, agent_h, ticket["id"])["tier"] == "bot"
    assert [e["kind"] for e in _events(client, agent_h, ticket["id"])] == ["created"]


def test_de_escalation_moves_down_one_tier_and_stops_at_the_bottom(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    agent_h = agent_headers(client, make_agent(session))
    ticket = open_ticket(client, customer_headers(customer), category="trading")
    assert ticket["tier"] == "agent"

    down = _de_escalate(client, agent_h, ticket["id"], reason="bot can answer fee questions")
    assert down.status_code == 200, down.text
    assert (down.json()["tier"], down.json()["team"]) == ("bot", "support")

    before = snapshot(engine)
    assert_problem(_de_escalate(client, agent_h, ticket["id"], reason="lower"), 409, "tier_limit")
    assert snapshot(engine) == before

    last = _events(client, agent_h, ticket["id"])[-1]
    assert (last["kind"], last["from_value"], last["to_value"], last["reason"]) == (
        "de_escalated",
        "agent",
        "bot",
        "bot can answer fee questions",
    )


def test_a_target_tier_must_be_in_the_direction_of_the_move(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    agent_h = agent_headers(client, make_agent(session))
    ticket = open_ticket(client, customer_headers(customer))
    before = snapshot(engine)

    same = _escalate(client, agent_h, ticket["id"], reason="r", to_tier="agent")
    assert_problem(same, 409, "tier_limit")
    lower = _escalate(client, agent_h, ticket["id"], reason="r", to_tier="bot")
    assert_problem(lower, 409, "tier_limit")
    up = _de_escalate(client, agent_h, ticket["id"], reason="r", to_tier="risk")
    assert_problem(up, 409, "tier_limit")
    bogus = _escalate(client, agent_h, ticket["id"], reason="r", to_tier="ceo")
    assert_problem(bogus, 422, "validation_error")
    assert snapshot(engine) == before


def test_a_non_security_ticket_can_come_back_down_from_risk(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session)
    officer_h = agent_headers(client, make_agent(session, Role.RISK_OFFICER))
    ticket = open_ticket(client, customer_headers(customer), category="withdrawal")

    up = _escalate(client, officer_h, ticket["id"], reason="large amount", to_tier="risk")
    assert (up.json()["tier"], up.json()["team"]) == ("risk", "risk")
    down = _de_escalate(client, officer_h, ticket["id"], reason="amount verified")
    assert down.status_code == 200, down.text
    assert (down.json()["tier"], down.json()["team"]) == ("agent", "support")


def test_a_closed_ticket_cannot_be_escalated(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    agent_h = agent_headers(client, make_agent(session))
    ticket = open_ticket(client, customer_headers(customer), channel="bot")
    for status in ("open", "solved", "closed"):
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/status", json={"status": status}, headers=agent_h
        )
        assert response.status_code == 200
    assert_problem(_escalate(client, agent_h, ticket["id"], reason="late"), 409, "ticket_closed")
    assert get_ticket(client, agent_h, ticket["id"])["tier"] == "bot"
