"""The chat API. Signed-in customers (`Authorization: Customer <token>`) chat in stored
conversations that can become tickets; visitors without a token get public help only
(`POST /bot/public/messages`): nothing is stored and no account is looked at."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from kefu.bot import service
from kefu.bot.classifier import IntentClassifier
from kefu.bot.models import Conversation
from kefu.bot.schemas import (
    BotMessageOut,
    ConversationCreate,
    ConversationOut,
    ExchangeOut,
    HandoffOut,
    MessageIn,
    PublicAnswerOut,
)
from kefu.bot.services import BotServices, production_services
from kefu.core.errors import PermissionDenied
from kefu.core.i18n import current_language
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity.deps import CurrentPrincipal
from kefu.identity.models import Customer
from kefu.tickets.models import Ticket

router = APIRouter(prefix="/api/v1/bot", tags=["bot"])


def current_customer(principal: CurrentPrincipal) -> Customer:
    if principal.customer is None:
        raise PermissionDenied()
    return principal.customer


CurrentCustomer = Annotated[Customer, Depends(current_customer)]


def bot_model(request: Request) -> IntentClassifier:
    settings: Settings = request.app.state.settings
    return service.classifier(settings)


def bot_services(request: Request) -> BotServices:
    """Tests and the integrator may set `app.state.bot_services`; otherwise production's."""
    services: BotServices | None = getattr(request.app.state, "bot_services", None)
    if services is None:
        services = production_services(
            request.app.state.settings, getattr(request.app.state, "exchange", None)
        )
        request.app.state.bot_services = services
    return services


Model = Annotated[IntentClassifier, Depends(bot_model)]
Services = Annotated[BotServices, Depends(bot_services)]


def _handoff(db: Session, conversation: Conversation) -> HandoffOut | None:
    if conversation.ticket_id is None:
        return None
    ticket = db.get(Ticket, conversation.ticket_id)
    if ticket is None:
        return None
    return HandoffOut(
        ticket_id=ticket.id,
        reference=ticket.reference,
        queue=ticket.queue,
        priority=ticket.priority,
        reason=conversation.handoff_reason,
    )


def _conversation_out(db: Session, conversation: Conversation) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        status=conversation.status,
        language=conversation.language,
        intent=conversation.intent,
        handoff=_handoff(db, conversation),
        messages=[BotMessageOut.model_validate(m) for m in service.messages(db, conversation)],
    )


def _exchange_out(db: Session, exchange: service.Exchange) -> ExchangeOut:
    conversation = exchange.conversation
    prediction = exchange.prediction
    return ExchangeOut(
        conversation_id=conversation.id,
        status=conversation.status,
        language=conversation.language,
        intent=prediction.label if prediction else None,
        confidence=prediction.confidence if prediction else None,
        message=BotMessageOut.model_validate(exchange.customer_message),
        replies=[BotMessageOut.model_validate(m) for m in exchange.replies],
        warnings=exchange.warnings,
        handoff=_handoff(db, conversation),
    )


@router.post("/conversations", status_code=201, response_model=ConversationOut)
def start_conversation(
    body: ConversationCreate,
    db: DbSession,
    customer: CurrentCustomer,
    model: Model,
    services: Services,
) -> ConversationOut:
    conversation = service.start_conversation(db, customer, body.language)
    if body.text is not None:
        service.post_message(db, conversation, customer, body.text, model=model, services=services)
    return _conversation_out(db, conversation)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
def get_conversation(
    conversation_id: str, db: DbSession, customer: CurrentCustomer
) -> ConversationOut:
    return _conversation_out(db, service.get_conversation(db, conversation_id, customer))


@router.post("/conversations/{conversation_id}/messages", response_model=ExchangeOut)
def post_message(
    conversation_id: str,
    body: MessageIn,
    db: DbSession,
    customer: CurrentCustomer,
    model: Model,
    services: Services,
) -> ExchangeOut:
    conversation = service.get_conversation(db, conversation_id, customer)
    exchange = service.post_message(
        db, conversation, customer, body.text, model=model, services=services
    )
    return _exchange_out(db, exchange)


@router.post("/public/messages", response_model=PublicAnswerOut)
def public_message(
    body: MessageIn, db: DbSession, model: Model, services: Services
) -> PublicAnswerOut:
    """No sign-in: public help only (greetings, fees, policies from the knowledge base)."""
    answer = service.answer_visitor(
        db, body.text, language=current_language(), model=model, services=services
    )
    return PublicAnswerOut(
        language=answer.language,
        intent=answer.intent,
        confidence=answer.confidence,
        replies=answer.replies,
        warnings=answer.warnings,
    )
