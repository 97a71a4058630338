"""Idempotency keys for POSTs that create things: a retried request gets the first answer.

The stored response is written in the same transaction as the thing it created, so either
both exist or neither does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest, Conflict, IdempotencyKeyReused
from kefu.core.i18n import N_
from kefu.core.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


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
    existing = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
        )
    )
    if existing is not None:
        if existing.request_hash != digest:
            raise IdempotencyKeyReused()
        return existing.status_code, existing.response_body
    body = action()
    try:
        with session.begin_nested():
            session.add(
                IdempotencyRecord(
                    principal=principal,
                    key=key,
                    endpoint=endpoint,
                    request_hash=digest,
                    status_code=status_code,
                    response_body=body,
                )
            )
    except IntegrityError:
        # A concurrent retry with the same key won the race; this transaction rolls back.
        raise Conflict(
            N_("A request with this Idempotency-Key is already being processed.")
        ) from None
    return status_code, body
