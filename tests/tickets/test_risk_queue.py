"""Invariant 5: tickets that touch asset security go to the risk queue at once and stay there,
out of sight of agents who do not serve it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.identity.models import Role
from tests.core.helpers import assert_problem, get_ticket, open_ticket, snapshot
from tests.factories import agent_headers, customer_headers, make_agent, make_customer

SECURITY_CASES = [
    # (category, asset_related, channel, customer language)
    ("security", False, "web", "en"),
    ("security", False, "bot", "zh-CN"),
    ("withdrawal", True, "bot", "en"),
    ("deposit", True, "email", "zh-CN"),
    ("other", True, "api", "en"),
]


def test_asset_security_tickets_land_in_the_risk_queue_from_any_channel(
    client: TestClient, session: Session
) -> None:
    for category, asset_related, channel, language in SECURITY_CASES:
        customer = make_customer(session, language=language)
        ticket = open_ticket(
            client,
            customer_headers(customer),
            category=category,
            asset_related=asset_related,
            channel=channel,
        )
        case = (category, asset_related, channel)
        assert (ticket["tier"], ticket["team"]) == ("risk", "risk"), case
        assert ticket["queue"] == f"risk:{language}", case
        assert ticket["channel"] == channel, case


def test_an_agent_filing_a_security_ticket_also_sends_it_to_risk(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session)
    agent_h = agent_headers(client, make_agent(session))
    ticket = open_ticket(client, agent_h, customer_id=customer.id, category="security")
    assert ticket["queue"] == "risk:en"


def test_a_plain_question_does_not_go_to_risk(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    for channel, tier in (("bot", "bot"), ("web", "agent")):
        ticket = open_ticket(client, customer_headers(customer), category="kyc", channel=channel)
        assert (ticket["tier"], ticket["team"]) == (tier, "support")


@pytest.mark.parametrize(("category", "asset_related"), [("security", False), ("trading", True)])
def test_a_risk_ticket_cannot_be_de_escalated(
    client: TestClient, session: Session, engine, category: str, asset_related: bool
) -> None:
    customer = make_customer(session)
    officer_h = agent_headers(client, make_agent(session, Role.RISK_OFFICER))
    ticket = open_ticket(
        client, customer_headers(customer), category=category, asset_related=asset_related
    )
    before = snapshot(engine)

    for target in (None, "agent", "bot"):
        body: dict[str, object] = {"reason": "looks harmless"}
        if target:
            body["to_tier"] = target
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/de-escalate", json=body, headers=officer_h
        )
        assert_problem(response, 409, "risk_queue_required")

    assert snapshot(engine) == before
    assert get_ticket(client, officer_h, ticket["id"])["queue"] == "risk:en"


def test_plain_agents_do_not_see_risk_tickets_but_risk_officers_do(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    agent = make_agent(session, Role.AGENT, teams=["support"])
    # Naming the risk team is not enough: the role must carry the risk-queue permission.
    pretender = make_agent(session, Role.AGENT, teams=["support", "risk"])
    officer = make_agent(session, Role.RISK_OFFICER, teams=["risk"])
    supervisor = make_agent(session, Role.SUPERVISOR)
    risk = open_ticket(client, customer_headers(customer), category="security")
    plain = open_ticket(client, customer_headers(customer), category="kyc")

    for outsider in (agent, pretender):
        headers = agent_headers(client, outsider)
        before = snapshot(engine)
        for method, path, body in (
            ("GET", f"/api/v1/tickets/{risk['id']}", None),
            ("GET", f"/api/v1/tickets/{risk['id']}/messages", None),
            ("GET", f"/api/v1/tickets/{risk['id']}/events", None),
            ("POST", f"/api/v1/tickets/{risk['id']}/messages", {"body": "hi"}),
            ("POST", f"/api/v1/tickets/{risk['id']}/status", {"status": "open"}),
            ("POST", f"/api/v1/tickets/{risk['id']}/assign", {"agent_id": outsider.id}),
        ):
            response = client.request(method, path, json=body, headers=headers)
            assert_problem(response, 404, "not_found")
            # The same answer as for a ticket that does not exist at all.
            assert risk["id"] in response.json()["title"]
        assert snapshot(engine) == before
        listed = client.get("/api/v1/tickets", headers=headers).json()["items"]
        assert [t["id"] for t in listed] == [plain["id"]]
        by_team = client.get("/api/v1/tickets", params={"team": "risk"}, headers=headers).json()
        assert by_team["items"] == []

    for insider in (officer, supervisor):
        headers = agent_headers(client, insider)
        assert get_ticket(client, headers, risk["id"])["id"] == risk["id"]
        listed = client.get("/api/v1/tickets", params={"team": "risk"}, headers=headers).json()
        assert [t["id"] for t in listed["items"]] == [risk["id"]]

    # The customer always sees their own ticket.
    assert get_ticket(client, customer_headers(customer), risk["id"])["queue"] == "risk:en"
