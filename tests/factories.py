"""Factories for test data, built through the services so the audit chain stays whole."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any, Protocol

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from kefu.audit.service import Actor
from kefu.core.clock import utcnow
from kefu.core.settings import Settings, get_settings
from kefu.identity import service as identity
from kefu.identity.mfa import totp
from kefu.identity.models import Agent, Customer, Role
from kefu.tickets import service as tickets
from kefu.tickets.models import Category, Channel, Priority, Ticket

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_customer(session: Session, **overrides: object) -> Customer:
    n = next(_seq)
    fields: dict[str, object] = {
        "external_id": f"u{n}",
        "display_name": f"Customer {n}",
        "jurisdiction": "SG",
        "language": "en",
        "email": f"user{n}@example.com",
        "phone": "+6591234567",
    }
    fields.update(overrides)
    customer = identity.upsert_customer(session, **fields)  # type: ignore[arg-type]
    session.commit()
    return customer


def make_agent(
    session: Session,
    role: Role = Role.AGENT,
    teams: list[str] | None = None,
    languages: list[str] | None = None,
    **overrides: object,
) -> Agent:
    n = next(_seq)
    agent = identity.create_agent(
        session,
        email=str(overrides.pop("email", f"agent{n}@desk.example")),
        display_name=str(overrides.pop("display_name", f"Agent {n}")),
        password=PASSWORD,
        role=role,
        teams=teams or (["support", "risk"] if role != Role.AGENT else ["support"]),
        languages=languages or ["en", "zh-CN"],
    )
    for key, value in overrides.items():
        setattr(agent, key, value)
    session.commit()
    return agent


def make_ticket(
    session: Session,
    customer: Customer,
    category: Category = Category.ACCOUNT,
    **overrides: object,
) -> Ticket:
    ticket = tickets.create_ticket(
        session,
        customer=customer,
        subject=str(overrides.pop("subject", "Cannot log in")),
        body=str(overrides.pop("body", "My password does not work")),
        category=category,
        actor=Actor.customer(customer.id),
        priority=overrides.pop("priority", Priority.NORMAL),  # type: ignore[arg-type]
        channel=overrides.pop("channel", Channel.API),  # type: ignore[arg-type]
        asset_related=bool(overrides.pop("asset_related", False)),
        language=overrides.pop("language", None),  # type: ignore[arg-type]
    )
    session.commit()
    return ticket


class _Poster(Protocol):
    def post(self, url: str, *, json: Any = ..., headers: Any = ...) -> Any: ...


# Recovery codes handed out at enrolment, by owner id: the factories' fallback once every
# TOTP step around the (possibly frozen) clock has been used.
_recovery_codes: dict[str, list[str]] = {}


def fresh_totp_code(
    sessions: sessionmaker[Session],
    owner_id: str,
    settings: Settings | None = None,
    owner_type: str = "agent",
) -> str | None:
    """What the owner's authenticator app would show now, for a step not yet used (the
    service accepts one step either side of now, each once); None when all three are used."""
    with sessions() as s:
        credential = totp.active_credential(s, totp.Owner(owner_type, owner_id))
        if credential is None:
            return None
        secret = totp._open_seed(credential, settings or get_settings())
        last = credential.last_used_step
        s.rollback()
    current = totp.step_of(utcnow())
    for step in range(current - 1, current + 2):
        if last is None or step > last:
            return totp.code_at_step(secret, step)
    return None


def enrol_totp(
    http: _Poster,
    headers: dict[str, str],
    owner_id: str,
) -> tuple[str, list[str]]:
    """Enrol an authenticator through the API as its owner would; (secret, recovery codes)."""
    begun = http.post("/api/v1/mfa/totp", headers=headers)
    assert begun.status_code == 201, begun.text
    secret = begun.json()["secret"]
    code = totp.code_at_step(secret, totp.step_of(utcnow()))
    confirmed = http.post("/api/v1/mfa/totp/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    _recovery_codes[owner_id] = list(codes)
    return secret, codes


def sign_in(
    http: _Poster,
    agent: Agent,
    sessions: sessionmaker[Session],
    settings: Settings | None = None,
    password: str = PASSWORD,
) -> dict[str, str]:
    """Sign in with the password, then enrol or prove the second factor through the API."""
    response = http.post("/api/v1/auth/login", json={"email": agent.email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    headers = {"Authorization": f"Bearer {body['token']}"}
    if not body["mfa_required"]:
        return headers
    if not body["mfa_enrolled"]:
        enrol_totp(http, headers, body["agent_id"])
        return headers
    code = fresh_totp_code(sessions, body["agent_id"], settings)
    payload = {"code": code, "factor": "totp"}
    if code is None:
        payload = {"code": _recovery_codes[body["agent_id"]].pop(), "factor": "recovery_code"}
    verified = http.post("/api/v1/mfa/verify", json=payload, headers=headers)
    assert verified.status_code == 200, verified.text
    return headers


def agent_headers(client: TestClient, agent: Agent) -> dict[str, str]:
    """A fully signed-in agent: password, then the second factor (enrolled on first use)."""
    app: Any = client.app
    return sign_in(client, agent, app.state.sessionmaker, app.state.settings)


def password_only_headers(client: TestClient, agent: Agent) -> dict[str, str]:
    """A sign-in that has not yet proven its second factor."""
    response = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def customer_headers(
    customer: Customer, lifetime: timedelta = timedelta(hours=1)
) -> dict[str, str]:
    token = identity.sign_customer_token(customer.external_id, utcnow() + lifetime)
    return {"Authorization": f"Customer {token}"}


def make_identity_review(
    session: Session,
    customer: Customer,
    reviewer: Agent,
    *,
    decision: str = "approve",
    decided_at: Any = None,
    settings: Settings | None = None,
) -> Any:
    """A real ID-document review of the customer (a passport scan), decided by `reviewer`
    at `decided_at` (default now) — what the `id_review` step-up factor reads."""
    from kefu.core.clock import clock
    from kefu.identity.documents import service as documents

    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"passport-scan" * 20
    settings = settings or get_settings()
    before = clock._frozen
    try:
        if decided_at is not None:
            clock.freeze(decided_at - timedelta(hours=1))
        documents.upload_document(
            session,
            settings,
            customer,
            kind="passport",
            data=png,
            declared_type="image/png",
            filename="passport.png",
        )
        review = documents.submit_review(session, customer)
        if decided_at is not None:
            clock.freeze(decided_at)
        reason = None if decision == "approve" else "The scan is unreadable."
        documents.decide(session, review.id, reviewer, decision=decision, reason=reason)
        session.commit()
    finally:
        if before is None:
            clock.unfreeze()
        else:
            clock.freeze(before)
    return review
