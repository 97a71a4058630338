"""Every route knows who is calling: no credentials, bad credentials and the wrong role are
refused with stable codes, and one customer never reaches another's ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.identity import service as identity
from kefu.identity.models import Role
from tests.core.helpers import (
    assert_problem,
    audit_entries,
    open_ticket,
    snapshot,
    use_fast_password_hashing,
)
from tests.factories import agent_headers, customer_headers, make_agent, make_customer

TICKET = "01900000-0000-7000-8000-000000000001"

ROUTES: list[tuple[str, str, object]] = [
    ("GET", "/api/v1/tickets", None),
    ("POST", "/api/v1/tickets", {"subject": "s", "body": "b"}),
    ("GET", f"/api/v1/tickets/{TICKET}", None),
    ("GET", f"/api/v1/tickets/{TICKET}/messages", None),
    ("POST", f"/api/v1/tickets/{TICKET}/messages", {"body": "b"}),
    ("GET", f"/api/v1/tickets/{TICKET}/events", None),
    ("POST", f"/api/v1/tickets/{TICKET}/status", {"status": "open"}),
    ("POST", f"/api/v1/tickets/{TICKET}/escalate", {"reason": "r"}),
    ("POST", f"/api/v1/tickets/{TICKET}/de-escalate", {"reason": "r"}),
    ("POST", f"/api/v1/tickets/{TICKET}/priority", {"priority": "high"}),
    ("POST", f"/api/v1/tickets/{TICKET}/assign", {"auto": True}),
    ("POST", f"/api/v1/tickets/{TICKET}/tags", {"add": ["x"]}),
    ("GET", "/api/v1/auth/me", None),
    ("POST", "/api/v1/auth/logout", None),
    ("GET", "/api/v1/agents", None),
    (
        "POST",
        "/api/v1/agents",
        {"email": "x@y.example", "display_name": "X", "password": "p" * 12},
    ),
    ("PUT", "/api/v1/customers", {"external_id": "e", "display_name": "d", "jurisdiction": "SG"}),
    ("GET", f"/api/v1/customers/{TICKET}", None),
    ("GET", "/api/v1/audit", None),
    ("GET", "/api/v1/audit/verify", None),
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_password_hashing(monkeypatch)


def test_every_route_needs_credentials(client: TestClient, engine) -> None:
    before = snapshot(engine)
    bad_credentials = [
        {},
        {"Authorization": "Bearer not-a-real-token"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Cookie": "kefu_session=forged"},
    ]
    for method, path, body in ROUTES:
        for headers in bad_credentials:
            response = client.request(method, path, json=body, headers=headers)
            assert_problem(response, 401, "not_authenticated")
    assert snapshot(engine) == before


def test_customer_tokens_must_be_genuine_and_fresh(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    good = customer_headers(customer)["Authorization"].removeprefix("Customer ")
    body_part, signature = good.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    forged = identity.sign_customer_token(
        customer.external_id,
        identity.utcnow() + timedelta(hours=1),
        secret="not-the-exchange-secret",
    )
    unknown = identity.sign_customer_token("no-such-user", identity.utcnow() + timedelta(hours=1))
    expired = customer_headers(customer, lifetime=timedelta(seconds=-1))["Authorization"]
    before = snapshot(engine)

    for token in (
        expired.removeprefix("Customer "),
        f"{body_part}.{flipped}",
        forged,
        unknown,
        "garbage",
        "a.b.c",
    ):
        headers = {"Authorization": f"Customer {token}"}
        for method, path, body in (
            ("GET", "/api/v1/tickets", None),
            ("POST", "/api/v1/tickets", {"subject": "s", "body": "b"}),
        ):
            response = client.request(method, path, json=body, headers=headers)
            assert_problem(response, 401, "invalid_customer_token")

    assert snapshot(engine) == before
    assert client.get("/api/v1/tickets", headers=customer_headers(customer)).status_code == 200


def test_a_customer_cannot_reach_another_customers_ticket(
    client: TestClient, session: Session, engine
) -> None:
    owner, stranger = make_customer(session), make_customer(session)
    ticket = open_ticket(client, customer_headers(owner))
    stranger_h = customer_headers(stranger)
    before = snapshot(engine)

    for method, path, body in (
        ("GET", f"/api/v1/tickets/{ticket['id']}", None),
        ("GET", f"/api/v1/tickets/{ticket['id']}/messages", None),
        ("POST", f"/api/v1/tickets/{ticket['id']}/messages", {"body": "let me in"}),
    ):
        response = client.request(method, path, json=body, headers=stranger_h)
        assert_problem(response, 404, "not_found")
    listed = client.get(
        "/api/v1/tickets", params={"customer_id": owner.id}, headers=stranger_h
    ).json()
    assert listed["items"] == []
    assert snapshot(engine) == before


def test_customers_cannot_use_agent_routes(client: TestClient, session: Session, engine) -> None:
    customer = make_customer(session)
    ticket = open_ticket(client, customer_headers(customer))
    headers = customer_headers(customer)
    before = snapshot(engine)

    agent_routes = [
        (method, path.replace(TICKET, ticket["id"]), body)
        for method, path, body in ROUTES
        if not path.startswith("/api/v1/tickets")
        or path.rsplit("/", 1)[-1]
        in ("events", "status", "escalate", "de-escalate", "priority", "assign", "tags")
    ]
    assert len(agent_routes) == 15
    for method, path, body in agent_routes:
        response = client.request(method, path, json=body, headers=headers)
        assert_problem(response, 403, "permission_denied")
    assert snapshot(engine) == before


def test_role_gated_routes(client: TestClient, session: Session, engine) -> None:
    agent_h = agent_headers(client, make_agent(session, Role.AGENT))
    supervisor_h = agent_headers(client, make_agent(session, Role.SUPERVISOR))
    before = snapshot(engine)

    for headers in (agent_h, supervisor_h):
        assert_problem(client.get("/api/v1/audit", headers=headers), 403, "permission_denied")
        assert_problem(
            client.get("/api/v1/audit/verify", headers=headers), 403, "permission_denied"
        )
        created = client.post(
            "/api/v1/agents",
            json={"email": "x@y.example", "display_name": "X", "password": "p" * 12},
            headers=headers,
        )
        assert_problem(created, 403, "permission_denied")
    assert_problem(client.get("/api/v1/agents", headers=agent_h), 403, "permission_denied")
    assert snapshot(engine) == before
    assert client.get("/api/v1/agents", headers=supervisor_h).status_code == 200


def test_admin_queries_the_audit_log_and_verifies_it(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    admin = make_agent(session, Role.ADMIN)
    headers = agent_headers(client, admin)
    ticket = open_ticket(client, customer_headers(customer))

    response = client.get("/api/v1/audit", params={"subject_id": ticket["id"]}, headers=headers)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [e["action"] for e in entries] == ["ticket.created"]
    assert entries[0]["actor_id"] == customer.id

    page = client.get("/api/v1/audit", params={"limit": 2}, headers=headers).json()
    assert [e["seq"] for e in page] == [1, 2]
    after = client.get("/api/v1/audit", params={"after_seq": 2, "limit": 1}, headers=headers)
    assert [e["seq"] for e in after.json()] == [3]
    # The query itself is on the record.
    queried = audit_entries(engine, action="audit.queried")
    assert [(e.actor_id, e.data["subject_id"], e.data["count"]) for e in queried] == [
        (admin.id, ticket["id"], 1),
        (admin.id, None, 2),
        (admin.id, None, 1),
    ]

    verified = client.get("/api/v1/audit/verify", headers=headers)
    assert verified.status_code == 200
    result = verified.json()
    assert result["ok"] is True
    assert result["first_broken_seq"] is None
    # Every entry before the check was verified; the check itself is then on the record.
    entries_after = audit_entries(engine)
    assert result["checked"] == len(entries_after) - 1
    assert entries_after[-1].action == "audit.verified"
    assert entries_after[-1].actor_id == admin.id
    assert entries_after[-1].data["ok"] is True
