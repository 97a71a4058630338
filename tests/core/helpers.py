"""Shared helpers for the core, audit, identity and tickets tests: counting what was written,
checking problem responses, opening tickets through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from kefu.audit.models import AuditEntry
from kefu.core.db import session_factory
from kefu.core.models import IdempotencyRecord
from kefu.identity import service as identity_service
from kefu.tickets.models import Message, Ticket, TicketEvent

PROBLEM_JSON = "application/problem+json"


def use_fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with the cost turned down so a test can sign in many agents quickly.
    tests/identity checks the production parameters separately."""
    monkeypatch.setattr(
        identity_service,
        "_hasher",
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem response with the stable code the client can branch on."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].startswith("https://") and body["type"].endswith(code.replace("_", "-"))
    assert isinstance(body["title"], str) and body["title"].strip()
    return body


def new_session(engine: Engine) -> Session:
    return session_factory(engine)()


def count(engine: Engine, model: Any, *where: Any) -> int:
    """Counts in a short transaction of its own (SQLite takes the write lock on BEGIN)."""
    with new_session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def snapshot(engine: Engine) -> dict[str, int]:
    """What a failed request must not change."""
    return {
        "tickets": count(engine, Ticket),
        "messages": count(engine, Message),
        "events": count(engine, TicketEvent),
        "audit": count(engine, AuditEntry),
        "idempotency": count(engine, IdempotencyRecord),
    }


def audit_entries(engine: Engine, **filters: Any) -> list[AuditEntry]:
    with new_session(engine) as s:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for name, value in filters.items():
            stmt = stmt.where(getattr(AuditEntry, name) == value)
        return list(s.scalars(stmt))


def audit_actions(engine: Engine, subject_id: str) -> list[str]:
    return [e.action for e in audit_entries(engine, subject_id=subject_id)]


def parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def open_ticket(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"subject": "Deposit missing", "body": "I sent 0.1 BTC an hour ago"}
    payload.update(fields)
    response = client.post("/api/v1/tickets", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def get_ticket(client: TestClient, headers: dict[str, str], ticket_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def drop_audit_triggers(engine: Engine) -> None:
    """What an attacker with DDL rights would do before editing the log."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_entries_append_only ON audit_entries"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(text("DROP TRIGGER audit_entries_no_delete"))
