"""Idempotency keys for POSTs that create things: a retried request gets the first answer.

The stored response is written in the same transaction as the thing it created, so either
both exist or neither does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest, Conflict, IdempotencyKeyReused
from kefu.core.i18n import N_
from kefu.core.models import IdempotencyRecord

MAX_KEY_LENGTH = 255

# Built once, in plain SQL: every create runs them.
_RECORDS: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
_FIND = select(_RECORDS.c.request_hash, _RECORDS.c.status_code, _RECORDS.c.response_body).where(
    _RECORDS.c.principal == bindparam("principal"), _RECORDS.c.key == bindparam("key")
)
# ON CONFLICT rather than a savepoint around the insert: one statement instead of three.
_STORE = {
    dialect: insert(_RECORDS)
    .on_conflict_do_nothing(index_elements=["principal", "key"])
    .returning(_RECORDS.c.id)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _request_hash(endpoint: str, body: Any) -> str:
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_idempotent(
    session: Session,
    *,
    principal: str,
    key: str | None,
    endpoint: str,
    request_body: Any,
    status_code: int,
    action: Callable[[], Any],
) -> tuple[int, Any]:
    """Run `action` once per (principal, key); return (status, JSON body) to send."""
    if key is None:
        return status_code, action()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(N_("Idempotency-Key must have 1 to 255 characters."))
    digest = _request_hash(endpoint, request_body)
    existing = session.execute(_FIND, {"principal": principal, "key": key}).first()
    if existing is not None:
        if existing.request_hash != digest:
            raise IdempotencyKeyReused()
        return existing.status_code, existing.response_body
    body = action()
    stored = session.execute(
        _STORE[session.get_bind().dialect.name],
        {
            "principal": principal,
            "key": key,
            "endpoint": endpoint,
            "request_hash": digest,
            "status_code": status_code,
            "response_body": body,
        },
    ).scalar_one_or_none()
    if stored is None:
        # A concurrent retry with the same key won the race; this transaction rolls back.
        raise Conflict(N_("A request with this Idempotency-Key is already being processed."))
    return status_code, body
