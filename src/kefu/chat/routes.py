"""The chat's routes: the customer WebSocket (`/api/v1/chat/ws`) and what the exchange's app
calls to let a customer check a support code (`/api/v1/chat/conversations`, `/verify`)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from kefu.bot.routes import CurrentCustomer
from kefu.chat import service
from kefu.chat.schemas import (
    AgentIdentityOut,
    CodeCheckIn,
    CodeCheckOut,
    ConversationListOut,
    ConversationSummaryOut,
)
from kefu.chat.socket import CLOSE_FORBIDDEN, CustomerConnection, origin_allowed
from kefu.core import i18n
from kefu.core.web import DbSession

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])


def summary_out(summary: service.ConversationSummary) -> ConversationSummaryOut:
    agent = summary.agent
    return ConversationSummaryOut(
        conversation_id=summary.conversation_id,
        verification_code=summary.verification_code,
        status=summary.status,
        started_at=summary.started_at,
        last_activity_at=summary.last_activity_at,
        ticket_reference=summary.ticket_reference,
        agent=AgentIdentityOut(name=agent.name, handle=agent.handle) if agent else None,
    )


@router.get("/conversations", response_model=ConversationListOut)
def my_conversations(db: DbSession, customer: CurrentCustomer) -> ConversationListOut:
    """The customer's chats with their support codes and the staff who answered."""
    summaries = service.customer_conversations(db, customer.id)
    return ConversationListOut(items=[summary_out(s) for s in summaries])


@router.post("/verify", response_model=CodeCheckOut)
def verify_code(body: CodeCheckIn, db: DbSession, customer: CurrentCustomer) -> CodeCheckOut:
    """Is this support code one of my real chats, and who is the agent?"""
    summary = service.check_code(db, customer.id, body.code)
    return CodeCheckOut(
        genuine=summary is not None,
        conversation=summary_out(summary) if summary else None,
    )


@router.websocket("/ws")
async def customer_socket(websocket: WebSocket) -> None:
    if not origin_allowed(websocket, websocket.app.state.settings):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    await websocket.accept()
    header = websocket.headers.get("accept-language")
    language = i18n.negotiate(header) or i18n.default_language()
    await CustomerConnection(websocket, language).run()
