"""Anti-impersonation: the customer's support conversations, each with its verification code
and the verified identity of the agent who answers it.

The data belongs to the chat module (`kefu.chat.service.customer_conversations(session,
customer_id)`). This adapter is the one place the portal reads it: it turns whatever that
function returns into `ConversationProof`s, so the page does not depend on the chat module's
classes, and it works (with an empty list) while no chat module is installed.

A deployment (or a test) may put another source on `app.state.portal_conversation_source`:
any callable `(session, customer_id) -> iterable` of objects or mappings with the fields
below (or the chat module's spellings of them).
"""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

ConversationSource = Callable[[Session, str], Iterable[Any]]

# Field → the names the chat module may use for it, first match wins.
_FIELDS: dict[str, tuple[str, ...]] = {
    "conversation_id": ("conversation_id", "id"),
    "code": ("verification_code", "code", "anti_impersonation_code"),
    "agent_name": ("agent_name", "agent_display_name"),
    "agent_identity": ("agent_identity", "verified_identity", "support_identity", "agent_handle"),
    "started_at": ("started_at", "created_at"),
    "status": ("status", "state"),
    "ticket_reference": ("ticket_reference", "reference"),
}


@dataclass(frozen=True)
class ConversationProof:
    conversation_id: str
    code: str
    agent_name: str | None
    agent_identity: str | None
    started_at: datetime | None
    status: str | None
    ticket_reference: str | None


def _read(item: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def _proof(item: Any) -> ConversationProof | None:
    values = {field: _read(item, names) for field, names in _FIELDS.items()}
    if not values["conversation_id"] or not values["code"]:
        return None
    started = values["started_at"]
    return ConversationProof(
        conversation_id=str(values["conversation_id"]),
        code=str(values["code"]),
        agent_name=str(values["agent_name"]) if values["agent_name"] else None,
        agent_identity=str(values["agent_identity"]) if values["agent_identity"] else None,
        started_at=started if isinstance(started, datetime) else None,
        status=str(values["status"]) if values["status"] else None,
        ticket_reference=str(values["ticket_reference"]) if values["ticket_reference"] else None,
    )


def chat_source() -> ConversationSource | None:
    """`kefu.chat.service.customer_conversations` once the chat module is installed."""
    try:
        chat = importlib.import_module("kefu.chat.service")
    except ImportError:
        return None
    source = getattr(chat, "customer_conversations", None)
    return source if callable(source) else None


def customer_conversations(
    session: Session, customer_id: str, source: ConversationSource | None
) -> list[ConversationProof]:
    if source is None:
        return []
    proofs = (_proof(item) for item in source(session, customer_id))
    found = [p for p in proofs if p is not None]
    return sorted(found, key=lambda p: (p.started_at is not None, p.started_at), reverse=True)


def normalize_code(code: str) -> str:
    """Codes are read aloud and typed: spaces, dashes and case do not matter."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def matching_conversation(proofs: list[ConversationProof], code: str) -> ConversationProof | None:
    """The conversation whose code this is, compared in constant time per code."""
    typed = normalize_code(code).encode()
    found = None
    for proof in proofs:
        if hmac.compare_digest(normalize_code(proof.code).encode(), typed) and typed:
            found = proof
    return found
