"""Agents' second factor is mandatory at sign-in: until it is proven, the session serves only
the second-factor routes and sign-out."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kefu.app import create_app
from kefu.cli import app as cli_app
from kefu.core.clock import clock
from kefu.core.settings import Settings, get_settings
from kefu.identity.models import Role
from tests.core.helpers import assert_problem, audit_entries
from tests.factories import (
    PASSWORD,
    agent_headers,
    customer_headers,
    make_agent,
    make_customer,
    password_only_headers,
)
from tests.identity.mfa.helpers import T0, code_for

PROTECTED = [
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/tickets"),
    ("get", "/api/v1/agents"),
    ("get", "/api/v1/sla/policies"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/step-up/policies"),
    ("get", "/api/v1/approvals"),
    ("post", "/api/v1/mfa/recovery-codes"),
]


def test_a_new_agent_must_enrol_before_anything_else(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    admin = make_agent(session, Role.ADMIN)
    login = client.post("/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    assert login.status_code == 200
    assert (login.json()["mfa_required"], login.json()["mfa_enrolled"]) == (True, False)
    headers = {"Authorization": f"Bearer {login.json()['token']}"}

    for method, path in PROTECTED:
        response = getattr(client, method)(path, headers=headers)
        assert_problem(response, 403, "mfa_enrolment_required")
    assert client.get("/api/v1/mfa", headers=headers).json()["verified"] is False
    wrong = client.post("/api/v1/mfa/verify", json={"code": "123456"}, headers=headers)
    assert_problem(wrong, 409, "totp_not_enrolled")

    secret = client.post("/api/v1/mfa/totp", headers=headers).json()["secret"]
    client.post("/api/v1/mfa/totp/confirm", json={"code": code_for(secret, T0)}, headers=headers)
    assert client.get("/api/v1/agents", headers=headers).status_code == 200

    # The next sign-in owes the code again.
    later = password_only_headers(client, admin)
    relogin = client.post("/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    assert (relogin.json()["mfa_required"], relogin.json()["mfa_enrolled"]) == (True, True)
    for method, path in PROTECTED:
        assert_problem(getattr(client, method)(path, headers=later), 401, "mfa_required")
    body = {"code": code_for(secret, T0, 1)}
    assert client.post("/api/v1/mfa/verify", json=body, headers=later).status_code == 200
    assert client.get("/api/v1/audit", headers=later).status_code == 200
    verified = audit_entries(engine, action="agent.mfa_verified")
    assert [(e.actor_id, e.data["factor"]) for e in verified] == [(admin.id, "totp")]


def test_a_session_owing_its_factor_can_still_sign_out(
    client: TestClient, session: Session
) -> None:
    agent = make_agent(session)
    headers = password_only_headers(client, agent)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert_problem(client.get("/api/v1/mfa", headers=headers), 401, "not_authenticated")


def test_factories_sign_in_through_the_second_factor(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    # More sign-ins at one frozen instant than there are usable TOTP steps: recovery codes
    # carry the rest, as they would for a person.
    for _ in range(5):
        headers = agent_headers(client, agent)
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    # Enrolment used the current step, the second sign-in the next one; then recovery codes.
    assert client.get("/api/v1/mfa", headers=headers).json()["recovery_codes_left"] == 7


def test_the_roles_that_require_it_are_a_setting(
    settings: Settings, engine: Engine, session: Session
) -> None:
    only_admins = settings.model_copy(update={"mfa_required_roles": ["admin"]})
    agent, admin = make_agent(session), make_agent(session, Role.ADMIN)
    with TestClient(create_app(only_admins, engine), raise_server_exceptions=False) as client:
        login = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
        assert login.json()["mfa_required"] is False
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        assert client.get("/api/v1/tickets", headers=headers).status_code == 200
        admin_headers = password_only_headers(client, admin)
        assert_problem(
            client.get("/api/v1/agents", headers=admin_headers), 403, "mfa_enrolment_required"
        )


def test_customers_have_no_sign_in_factor_to_prove(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    response = client.post(
        "/api/v1/mfa/verify", json={"code": "123456"}, headers=customer_headers(customer)
    )
    assert_problem(response, 403, "permission_denied")
    bad = client.post(
        "/api/v1/mfa/verify",
        json={"code": "123456", "factor": "sms"},
        headers=customer_headers(customer),
    )
    assert_problem(bad, 422, "validation_error")
    assert_problem(client.get("/api/v1/mfa"), 401, "not_authenticated")


def test_an_operator_clears_a_lost_authenticator_from_the_command_line(
    client: TestClient,
    session: Session,
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    agent_headers(client, agent)
    monkeypatch.setenv("KEFU_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["mfa", "reset-agent", agent.email.upper()])
        assert result.exit_code == 0, result.output
        unknown = CliRunner().invoke(cli_app, ["mfa", "reset-agent", "nobody@desk.example"])
        assert unknown.exit_code == 1
    finally:
        get_settings.cache_clear()
    login = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
    assert (login.json()["mfa_required"], login.json()["mfa_enrolled"]) == (True, False)
    [entry] = audit_entries(engine, action="mfa.totp_reset")
    assert (entry.actor_type, entry.subject_id) == ("system", agent.id)
