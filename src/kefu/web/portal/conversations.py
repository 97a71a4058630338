"""Anti-impersonation on the portal: the customer's support conversations, each with its
verification code and the verified identity of the agent who answers it. The data and the
code check belong to the chat module (`kefu.chat.service`); this is the portal's view of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from kefu.chat import service as chat
from kefu.chat.service import ConversationSummary


@dataclass(frozen=True)
class ConversationProof:
    conversation_id: str
    code: str
    agent_name: str | None
    agent_identity: str | None
    started_at: datetime | None
    status: str | None
    ticket_reference: str | None


def _proof(summary: ConversationSummary) -> ConversationProof:
    return ConversationProof(
        conversation_id=summary.conversation_id,
        code=summary.verification_code,
        agent_name=summary.agent.name if summary.agent else None,
        agent_identity=summary.agent.handle if summary.agent else None,
        started_at=summary.started_at,
        status=summary.status,
        ticket_reference=summary.ticket_reference,
    )


def customer_conversations(session: Session, customer_id: str) -> list[ConversationProof]:
    """Newest first (audited by the chat module)."""
    return [_proof(s) for s in chat.customer_conversations(session, customer_id)]


def check_code(session: Session, customer_id: str, code: str) -> ConversationProof | None:
    """The customer's own conversation with this code, else None (audited as genuine or not,
    never the code, by the chat module)."""
    found = chat.check_code(session, customer_id, code)
    return _proof(found) if found is not None else None
