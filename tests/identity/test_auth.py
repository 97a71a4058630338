"""Agents sign in with argon2-hashed passwords; customers' contact details stay masked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.core.clock import clock
from kefu.identity.models import Agent, Role
from tests.core.helpers import (
    assert_problem,
    audit_entries,
    new_session,
)
from tests.factories import PASSWORD, agent_headers, make_agent, make_customer

LOGIN = "/api/v1/auth/login"


def _login(client: TestClient, email: str, password: str):
    return client.post(LOGIN, json={"email": email, "password": password})


@pytest.mark.production_password_hashing
def test_passwords_are_stored_as_argon2id_with_production_cost(
    client: TestClient, session: Session, engine
) -> None:
    admin = make_agent(session, Role.ADMIN)
    created = client.post(
        "/api/v1/agents",
        json={
            "email": "New.Agent@Desk.Example",
            "display_name": "New Agent",
            "password": "a long enough passphrase",
            "teams": ["support"],
            "languages": ["zh-CN"],
        },
        headers=agent_headers(client, admin),
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "new.agent@desk.example"
    assert "password" not in created.text

    with new_session(engine) as s:
        stored = s.get(Agent, created.json()["id"])
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        params = dict(p.split("=") for p in stored.password_hash.split("$")[3].split(","))
        # At least the argon2-cffi defaults (RFC 9106 low-memory profile).
        assert int(params["m"]) >= 65536 and int(params["t"]) >= 3
        assert "a long enough passphrase" not in stored.password_hash

    signed_in = _login(client, "new.agent@desk.example", "a long enough passphrase")
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["agent_id"] == created.json()["id"]
    assert signed_in.json()["role"] == "agent"
    # Email is matched case-insensitively.
    assert _login(client, "NEW.AGENT@desk.example", "a long enough passphrase").status_code == 200


def test_wrong_password_and_unknown_email_look_the_same_and_are_audited(
    client: TestClient, session: Session, engine
) -> None:
    agent = make_agent(session)

    wrong = _login(client, agent.email, "not the password at all")
    unknown = _login(client, "nobody@desk.example", PASSWORD)

    wrong_body = assert_problem(wrong, 401, "invalid_credentials")
    unknown_body = assert_problem(unknown, 401, "invalid_credentials")
    assert wrong_body == unknown_body
    assert "token" not in wrong.text

    failures = audit_entries(engine, action="agent.login_failed")
    assert [(e.subject_type, e.subject_id) for e in failures] == [
        ("agent", agent.id),
        ("agent", None),
    ]
    assert audit_entries(engine, action="agent.login") == []


def test_logout_revokes_only_that_token(client: TestClient, session: Session, engine) -> None:
    agent = make_agent(session)
    first = agent_headers(client, agent)
    second = agent_headers(client, agent)
    assert client.get("/api/v1/auth/me", headers=first).json()["id"] == agent.id

    out = client.post("/api/v1/auth/logout", headers=first)
    assert out.status_code == 204

    assert_problem(client.get("/api/v1/auth/me", headers=first), 401, "not_authenticated")
    assert_problem(client.get("/api/v1/tickets", headers=first), 401, "not_authenticated")
    assert_problem(client.post("/api/v1/auth/logout", headers=first), 401, "not_authenticated")
    assert client.get("/api/v1/auth/me", headers=second).status_code == 200
    assert [e.actor_id for e in audit_entries(engine, action="agent.logout")] == [agent.id]


def test_sessions_expire(client: TestClient, session: Session) -> None:
    start = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    clock.freeze(start)
    agent = make_agent(session)
    headers = agent_headers(client, agent)

    clock.freeze(start + timedelta(hours=11, minutes=59))
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    clock.freeze(start + timedelta(hours=12))
    assert_problem(client.get("/api/v1/auth/me", headers=headers), 401, "not_authenticated")


def test_a_deactivated_agent_is_signed_out_and_cannot_sign_in(
    client: TestClient, session: Session
) -> None:
    agent = make_agent(session)
    headers = agent_headers(client, agent)
    agent.active = False
    session.commit()

    assert_problem(client.get("/api/v1/auth/me", headers=headers), 401, "not_authenticated")
    assert_problem(_login(client, agent.email, PASSWORD), 401, "invalid_credentials")


def test_customer_contact_details_are_masked_and_the_read_is_audited(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session, email="ursula.k@example.com", phone="+6591234567")
    agent = make_agent(session)
    headers = agent_headers(client, agent)

    response = client.get(f"/api/v1/customers/{customer.id}", headers=headers)

    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["email"] == "u***@example.com"
    assert shown["phone"] == "+65****67"
    assert "ursula" not in response.text and "91234567" not in response.text
    assert shown["display_name"] == customer.display_name
    reads = audit_entries(engine, action="customer.read")
    assert [(e.actor_type, e.actor_id, e.subject_type, e.subject_id) for e in reads] == [
        ("agent", agent.id, "customer", customer.id)
    ]

    missing = client.get("/api/v1/customers/no-such-customer", headers=headers)
    assert_problem(missing, 404, "not_found")
    assert len(audit_entries(engine, action="customer.read")) == 1


def test_upserting_a_customer_answers_masked(client: TestClient, session: Session) -> None:
    headers = agent_headers(client, make_agent(session))
    payload = {
        "external_id": "ex-42",
        "display_name": "Li Wei",
        "jurisdiction": "sg",
        "language": "zh",
        "email": "liwei@example.com",
    }
    first = client.put("/api/v1/customers", json=payload, headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["email"], first.json()["jurisdiction"], first.json()["language"]) == (
        "l***@example.com",
        "SG",
        "zh-CN",
    )
    again = client.put(
        "/api/v1/customers", json={**payload, "display_name": "Li Wei 2"}, headers=headers
    )
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["display_name"] == "Li Wei 2"


def test_a_disabled_agents_sign_in_attempt_is_audited(
    client: TestClient, session: Session, engine
) -> None:
    agent = make_agent(session, active=False)
    assert_problem(_login(client, agent.email, PASSWORD), 401, "invalid_credentials")
    assert len(audit_entries(engine, action="agent.login_failed", subject_id=agent.id)) == 1


def test_repeated_failures_lock_an_email_alike_for_real_and_unknown_accounts(
    client: TestClient, session: Session, engine
) -> None:
    agent = make_agent(session)
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    clock.freeze(start)
    for email in (agent.email, "nobody@desk.example"):
        for _ in range(5):
            assert_problem(_login(client, email, "wrong guess"), 401, "invalid_credentials")
        # Locked now, even with the right password, and the refusal looks the same for both.
        locked = assert_problem(_login(client, email, PASSWORD), 429, "sign_in_locked")
        assert "15" in locked["title"]
    assert len(audit_entries(engine, action="agent.login_throttled")) == 2
    assert audit_entries(engine, action="agent.login") == []

    # Another account is unaffected, and the lock lifts once the failures age out.
    other = make_agent(session)
    assert _login(client, other.email, PASSWORD).status_code == 200
    clock.freeze(start + timedelta(minutes=16))
    assert _login(client, agent.email.upper(), PASSWORD).status_code == 200


def test_customer_tokens_that_live_too_long_are_refused(
    client: TestClient, session: Session
) -> None:
    from kefu.identity.service import sign_customer_token

    customer = make_customer(session)
    now = datetime.now(UTC)
    for lifetime, status in ((timedelta(hours=23), 200), (timedelta(days=30), 401)):
        token = sign_customer_token(customer.external_id, now + lifetime)
        response = client.get("/api/v1/tickets", headers={"Authorization": f"Customer {token}"})
        assert response.status_code == status, response.text
