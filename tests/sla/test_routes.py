"""The SLA API as a client sees it: permissions, validation (422) and the scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.core.clock import clock
from kefu.identity.models import Role
from kefu.tickets.models import Channel
from tests.factories import agent_headers, customer_headers, make_agent, make_customer, make_ticket

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
HOURS = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def test_supervisor_manages_policies_and_calendars(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    supervisor = agent_headers(client, make_agent(session, Role.SUPERVISOR))

    response = client.post(
        "/api/v1/sla/calendars",
        json={
            "name": "SG",
            "timezone": "Asia/Singapore",
            "weekly_hours": HOURS,
            "holidays": ["2026-12-25"],
        },
        headers=supervisor,
    )
    assert response.status_code == 201, response.text
    calendar_id = response.json()["id"]
    assert [c["name"] for c in client.get("/api/v1/sla/calendars", headers=supervisor).json()] == [
        "SG"
    ]

    response = client.post(
        "/api/v1/sla/policies",
        json={
            "name": "SG business",
            "jurisdictions": ["sg"],
            "first_response_minutes": 120,
            "business_hours": True,
            "calendar_id": calendar_id,
        },
        headers=supervisor,
    )
    assert response.status_code == 201, response.text
    sg = response.json()
    assert (sg["position"], sg["jurisdictions"]) == (1, ["SG"])
    response = client.post(
        "/api/v1/sla/policies",
        json={"name": "All", "first_response_minutes": 60, "position": 1},
        headers=supervisor,
    )
    catch_all = response.json()
    names = [p["name"] for p in client.get("/api/v1/sla/policies", headers=supervisor).json()]
    assert names == ["All", "SG business"]

    response = client.patch(
        f"/api/v1/sla/policies/{catch_all['id']}",
        json={"position": 2, "resolution_minutes": 600},
        headers=supervisor,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["position"], response.json()["resolution_minutes"]) == (2, 600)
    response = client.put(
        "/api/v1/sla/policies/order",
        json={"policy_ids": [catch_all["id"], sg["id"]]},
        headers=supervisor,
    )
    assert [p["name"] for p in response.json()] == ["All", "SG business"]
    response = client.delete(f"/api/v1/sla/policies/{catch_all['id']}", headers=supervisor)
    assert response.json()["active"] is False
    assert client.patch("/api/v1/sla/policies/nope", json={}, headers=supervisor).status_code == 404


def test_bad_input_is_422(client: TestClient, session: Session) -> None:
    supervisor = agent_headers(client, make_agent(session, Role.SUPERVISOR))
    bad_calendars = [
        {"name": "x", "timezone": "Asia/Singapore", "weekly_hours": {"mon": [["9:00", "18:00"]]}},
        {"name": "x", "timezone": "Asia/Singapore", "weekly_hours": {"mon": [["18:00", "09:00"]]}},
        {
            "name": "x",
            "timezone": "Asia/Singapore",
            "weekly_hours": {"funday": [["09:00", "18:00"]]},
        },
        {"name": "x", "timezone": "Moon/Base", "weekly_hours": HOURS},
        {"name": "x", "timezone": "Asia/Singapore", "weekly_hours": HOURS, "holidays": ["soon"]},
    ]
    for body in bad_calendars:
        response = client.post("/api/v1/sla/calendars", json=body, headers=supervisor)
        assert response.status_code == 422, (body, response.text)
    bad_policies = [
        {"name": "x"},  # no target
        {"name": "x", "first_response_minutes": 0},
        {"name": "x", "first_response_minutes": 5, "business_hours": True},  # no calendar
        {"name": "x", "first_response_minutes": 5, "priorities": ["asap"]},
        {"name": "x", "first_response_minutes": 5, "jurisdictions": ["Singapore"]},
    ]
    for body in bad_policies:
        response = client.post("/api/v1/sla/policies", json=body, headers=supervisor)
        assert response.status_code == 422, (body, response.text)


def test_agents_cannot_manage_policies(client: TestClient, session: Session) -> None:
    agent = agent_headers(client, make_agent(session, Role.AGENT))
    assert client.get("/api/v1/sla/policies", headers=agent).status_code == 403
    response = client.post(
        "/api/v1/sla/policies", json={"name": "x", "first_response_minutes": 5}, headers=agent
    )
    assert response.status_code == 403
    assert client.post("/api/v1/sla/scan", headers=agent).status_code == 403
    assert client.get("/api/v1/sla/policies").status_code == 401


def test_ticket_sla_status_and_scan(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    supervisor_agent = make_agent(session, Role.SUPERVISOR)
    supervisor = agent_headers(client, supervisor_agent)
    client.post(
        "/api/v1/sla/policies",
        json={"name": "fr", "first_response_minutes": 60},
        headers=supervisor,
    )
    someone = make_customer(session)
    ticket = make_ticket(session, someone, channel=Channel.BOT)
    ticket_id = ticket.id
    session.commit()

    agent = agent_headers(client, make_agent(session, Role.AGENT))
    response = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=agent)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["policy_name"] == "fr"
    (first,) = body["targets"]
    assert (first["target"], first["state"], first["remaining_seconds"]) == (
        "first_response",
        "running",
        3600,
    )
    # Customers do not see internal SLA clocks; unknown tickets are 404.
    assert (
        client.get(
            f"/api/v1/tickets/{ticket_id}/sla", headers=customer_headers(someone)
        ).status_code
        == 403
    )
    assert client.get("/api/v1/tickets/nope/sla", headers=agent).status_code == 404

    clock.freeze(T0 + timedelta(minutes=61))
    response = client.post("/api/v1/sla/scan", headers=supervisor)
    assert response.status_code == 200, response.text
    (breach,) = response.json()
    assert (breach["ticket_id"], breach["target"]) == (ticket_id, "first_response")
    assert client.post("/api/v1/sla/scan", headers=supervisor).json() == []
    status = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=supervisor).json()
    assert status["targets"][0]["state"] == "breached"
