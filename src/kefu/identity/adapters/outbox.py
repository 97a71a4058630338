"""The embedded demo's SMS gateway: messages are kept in the database, where the console
(and `GET /api/v1/sms/outbox`) shows them, instead of reaching a phone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.clock import utcnow
from kefu.identity.adapters import SentSms
from kefu.identity.mfa.models import SmsOutboxMessage


class OutboxSmsSender:
    def send(self, session: Session, to: str, body: str) -> SentSms:
        message = SmsOutboxMessage(to=to, body=body, created_at=utcnow())
        session.add(message)
        session.flush()
        return SentSms(provider_id=message.id, status="stored")


def list_outbox(
    session: Session, *, to: str | None = None, limit: int = 50
) -> list[SmsOutboxMessage]:
    stmt = select(SmsOutboxMessage)
    if to:
        stmt = stmt.where(SmsOutboxMessage.to == to)
    stmt = stmt.order_by(SmsOutboxMessage.created_at.desc(), SmsOutboxMessage.id.desc())
    return list(session.scalars(stmt.limit(limit)))
