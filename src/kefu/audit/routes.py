"""Audit queries for admins. There is deliberately no route that edits or deletes entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from kefu.audit import service
from kefu.core.web import DbSession
from kefu.identity.deps import Principal, require
from kefu.identity.permissions import Permission

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor_type: str
    actor_id: str | None
    action: str
    subject_type: str | None
    subject_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str | None


@router.get("", response_model=list[AuditEntryOut])
def query(
    db: DbSession,
    principal: Auditor,
    action: str | None = None,
    actor_id: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    entries = service.query(
        db,
        action=action,
        actor_id=actor_id,
        subject_id=subject_id,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
    )
    result = [AuditEntryOut.model_validate(e) for e in entries]
    service.record(
        db,
        principal.actor,
        "audit.queried",
        data={"action": action, "subject_id": subject_id, "count": len(result)},
    )
    return result


@router.get("/verify", response_model=VerifyOut)
def verify(db: DbSession, principal: Auditor) -> VerifyOut:
    result = service.verify(db)
    service.record(
        db,
        principal.actor,
        "audit.verified",
        data={
            "ok": result.ok,
            "checked": result.checked,
            "first_broken_seq": result.first_broken_seq,
        },
    )
    return VerifyOut(
        ok=result.ok,
        checked=result.checked,
        first_broken_seq=result.first_broken_seq,
        reason=result.reason,
    )
