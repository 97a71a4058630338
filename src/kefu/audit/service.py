"""Appending to and verifying the hash-chained audit log.

Each entry's hash covers its own content and the previous entry's hash, so editing an entry
breaks its own hash and deleting one breaks the chain (and leaves a gap in `seq`). Writers
serialise on the single `audit_head` row, which keeps the chain linear under concurrency.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from kefu.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from kefu.core.clock import utcnow


@dataclass(frozen=True)
class Actor:
    """Who did something: an agent, a customer, the bot or the system itself."""

    type: str
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None)

    @classmethod
    def bot(cls) -> Actor:
        return cls("bot", None)

    @classmethod
    def agent(cls, agent_id: str) -> Actor:
        return cls("agent", agent_id)

    @classmethod
    def customer(cls, customer_id: str) -> Actor:
        return cls("customer", customer_id)


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor_type: str,
    actor_id: str | None,
    action: str,
    subject_type: str | None,
    subject_id: str | None,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "data": data,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hash_of(entry: AuditEntry | Row[Any]) -> str:
    """The hash an entry (or a row read back from the log) should carry."""
    return entry_hash(
        seq=entry.seq,
        at=entry.at,
        actor_type=entry.actor_type,
        actor_id=entry.actor_id,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        data=entry.data,
        prev_hash=entry.prev_hash,
    )


# Built once: they run on every write and every audited read.
_ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]
_HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
# FOR UPDATE serialises appenders on PostgreSQL; on SQLite, BEGIN IMMEDIATE already has.
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_ENTRY = insert(_ENTRIES)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    subject_type: str | None = None,
    subject_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction: it commits or rolls back with the action.

    Three plain SQL statements (lock and read the head, insert the entry, move the head) rather
    than the ORM's unit of work, which costs more than the statements themselves here. The
    returned entry is a copy of what was written; the session does not track it.
    """
    payload = json.loads(json.dumps(data or {}, default=str))
    # The caller's pending rows go first, so the head stays locked as briefly as possible.
    session.flush()
    last_seq, prev_hash = session.execute(_LOCK_HEAD).one()
    entry = AuditEntry(
        seq=last_seq + 1,
        at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        data=payload,
        prev_hash=prev_hash,
    )
    entry.hash = hash_of(entry)
    session.execute(_INSERT_ENTRY, {c.key: getattr(entry, c.key) for c in _ENTRIES.columns})
    session.execute(_MOVE_HEAD, {"new_seq": entry.seq, "new_hash": entry.hash})
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


_CHAIN_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    AuditEntry.actor_type,
    AuditEntry.actor_id,
    AuditEntry.action,
    AuditEntry.subject_type,
    AuditEntry.subject_id,
    AuditEntry.data,
    AuditEntry.prev_hash,
    AuditEntry.hash,
)


def _entries(session: Session, batch: int = 1000) -> Iterator[Row[Any]]:
    """Plain rows in batches: nothing enters the caller's identity map, memory stays flat."""
    last = 0
    while True:
        rows = session.execute(
            select(*_CHAIN_COLUMNS)
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the start and name the first entry that does not hold."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in _entries(session):
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != expected_prev:
            return VerifyResult(
                False, checked, entry.seq, "previous-hash link does not match the entry before"
            )
        if hash_of(entry) != entry.hash:
            return VerifyResult(False, checked, entry.seq, "content does not match its hash")
        expected_prev = entry.hash
        expected_seq += 1
        checked += 1
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is not None and (head.last_seq != checked or head.last_hash != expected_prev):
        return VerifyResult(
            False, checked, checked + 1, "entries after this point were removed from the tail"
        )
    return VerifyResult(True, checked)


def query(
    session: Session,
    *,
    action: str | None = None,
    actor_id: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor_id:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if subject_id:
        stmt = stmt.where(AuditEntry.subject_id == subject_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return list(session.scalars(stmt.order_by(AuditEntry.seq).limit(limit)))
