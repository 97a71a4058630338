"""Factories for test data, built through the services so the audit chain stays whole."""

from __future__ import annotations

import itertools
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.core.clock import utcnow
from kefu.identity import service as identity
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


def agent_headers(client: TestClient, agent: Agent) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def customer_headers(
    customer: Customer, lifetime: timedelta = timedelta(hours=1)
) -> dict[str, str]:
    token = identity.sign_customer_token(customer.external_id, utcnow() + lifetime)
    return {"Authorization": f"Customer {token}"}
