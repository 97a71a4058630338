"""Conversations with the bot: redaction on arrival, language, intent, flow, handoff.

Handoff happens on an explicit request, a risky intent (account_compromised, wrong_address,
liquidation_dispute, 2fa_reset), a flow that needs a person or a service that is not wired,
and when the bot does not understand (out of scope or below the confidence threshold) twice in
a row — the first time it asks the customer to rephrase. The ticket carries the transcript,
language, intent, confidence, the reason and the collected facts. Once a ticket exists the
customer's messages go to it; the bot only says the ticket is queued, and says nothing at all
once a person is assigned.
"""

from __future__ import annotations

import csv
import logging
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.bot import flows
from kefu.bot.classifier import OOS, IntentClassifier, Prediction, load_cached
from kefu.bot.language import detect
from kefu.bot.models import Author, BotMessage, Conversation, ConversationStatus
from kefu.bot.redaction import Redacted, SecretKind, redact
from kefu.bot.services import BotServices
from kefu.core.clock import utcnow
from kefu.core.errors import BadRequest, NotFound
from kefu.core.i18n import N_, normalize_language, translate
from kefu.core.settings import Settings
from kefu.identity.models import Customer
from kefu.tickets import service as tickets
from kefu.tickets.models import Channel, MessageKind, Status, Ticket, Tier

log = logging.getLogger("kefu.bot")

MODEL_FILE = "intent-model.npz"
MAX_TEXT = 4000
# Intents that interrupt a flow waiting for input (e.g. for a transaction hash).
INTERRUPTING = frozenset({"talk_to_human", "account_compromised"})
SWITCH_CONFIDENCE = 0.8


class EmptyMessage(BadRequest):
    code = "empty_message"
    message = N_("A message cannot be empty.")


class MessageTooLong(BadRequest):
    code = "message_too_long"
    message = N_("A message can have at most %(max)s characters.")


# --- the model -------------------------------------------------------------------------------


def intents_csv() -> Path:
    return Path(str(resources.files("kefu.bot") / "data" / "intents.csv"))


def read_intents(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("text") and r.get("label")]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def model_path(settings: Settings) -> Path:
    return Path(settings.bot_data_dir) / MODEL_FILE


def train(settings: Settings, data: Path | None = None) -> tuple[IntentClassifier, Path]:
    texts, labels = read_intents(data or intents_csv())
    model = IntentClassifier.train(texts, labels)
    path = model_path(settings)
    model.save(path)
    return model, path


_train_lock = threading.Lock()


def classifier(settings: Settings) -> IntentClassifier:
    """The process's model: loaded once; trained from the shipped data on first use."""
    path = model_path(settings)
    if not path.exists():
        with _train_lock:
            if not path.exists():
                log.info("no intent model at %s: training it from the shipped data", path)
                train(settings)
    return load_cached(path)


# --- messages --------------------------------------------------------------------------------

WARNINGS = {
    SecretKind.SEED_PHRASE: N_(
        "We removed what looks like a recovery (seed) phrase from your message. Never share "
        "it with anyone, including us: whoever has it controls the wallet. If you shared it "
        "anywhere, move your funds to a new wallet now."
    ),
    SecretKind.PRIVATE_KEY: N_(
        "We removed what looks like a private key from your message. Never share private keys "
        "with anyone, including us. If you shared it anywhere, move the funds to a new key now."
    ),
    SecretKind.ONE_TIME_CODE: N_(
        "We removed what looks like a verification code. Never tell anyone your codes, not "
        "even support staff: we will never ask for them."
    ),
    SecretKind.CARD_NUMBER: N_(
        "We hid your card number. Never send full card numbers in a chat; the last four "
        "digits are enough for us to help."
    ),
}

REPHRASE = N_(
    "Sorry, I did not understand. Could you say it in other words? You can also write "
    '"talk to a person" at any time.'
)
QUEUED = N_("Your request %(reference)s is with our team; a colleague will reply here.")


@dataclass
class Exchange:
    """What one customer message produced."""

    conversation: Conversation
    customer_message: BotMessage
    replies: list[BotMessage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ticket: Ticket | None = None
    prediction: Prediction | None = None


def _clean(text: str) -> str:
    text = text.strip()
    if not text:
        raise EmptyMessage()
    if len(text) > MAX_TEXT:
        raise MessageTooLong(max=MAX_TEXT)
    return text


def warnings_for(redacted: Redacted, language: str) -> list[str]:
    return [translate(WARNINGS[kind], language) for kind in redacted.kinds]


def start_conversation(
    session: Session, customer: Customer, language: str | None = None
) -> Conversation:
    conversation = Conversation(
        customer_id=customer.id,
        language=normalize_language(language) or customer.language,
        status=ConversationStatus.BOT,
        facts={},
        misunderstood=0,
    )
    session.add(conversation)
    session.flush()
    record(
        session,
        Actor.customer(customer.id),
        "bot.conversation_started",
        subject_type="bot_conversation",
        subject_id=conversation.id,
    )
    return conversation


def get_conversation(session: Session, conversation_id: str, customer: Customer) -> Conversation:
    """The customer's own conversation, else the same 404 as a missing one."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.customer_id != customer.id:
        raise NotFound(kind=N_("Conversation"), id=conversation_id)
    return conversation


def messages(session: Session, conversation: Conversation) -> list[BotMessage]:
    return list(
        session.scalars(
            select(BotMessage)
            .where(BotMessage.conversation_id == conversation.id)
            .order_by(BotMessage.created_at, BotMessage.id)
        )
    )


def _store(
    session: Session,
    conversation: Conversation,
    author: Author,
    body: str,
    *,
    intent: str | None = None,
    confidence: float | None = None,
    redactions: list[str] | None = None,
) -> BotMessage:
    message = BotMessage(
        conversation_id=conversation.id,
        author=author,
        body=body,
        language=conversation.language,
        intent=intent,
        confidence=confidence,
        redactions=redactions or [],
        created_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def post_message(
    session: Session,
    conversation: Conversation,
    customer: Customer,
    text: str,
    *,
    model: IntentClassifier,
    services: BotServices,
) -> Exchange:
    text = _clean(text)
    redacted = redact(text, expecting_tx_hash=conversation.flow_step == "tx_hash")
    # Detected on what remains: a pasted English seed phrase says nothing about the language.
    detected = detect(redacted.text)
    if detected.reply_language:
        conversation.language = detected.reply_language
    language = conversation.language
    warnings = warnings_for(redacted, language)
    if redacted.found:
        record(
            session,
            Actor.customer(customer.id),
            "bot.secret_redacted",
            subject_type="bot_conversation",
            subject_id=conversation.id,
            data={"kinds": [str(k) for k in redacted.kinds]},
        )
    conversation.updated_at = utcnow()

    if conversation.status == ConversationStatus.HANDED_OFF:
        exchange = _relay_to_ticket(session, conversation, customer, redacted, warnings)
        if exchange is not None:
            return exchange

    prediction = model.predict(redacted.text)
    incoming = _store(
        session,
        conversation,
        Author.CUSTOMER,
        redacted.text,
        intent=prediction.label,
        confidence=prediction.confidence,
        redactions=[str(k) for k in redacted.kinds],
    )
    exchange = Exchange(conversation, incoming, warnings=warnings, prediction=prediction)
    record(
        session,
        Actor.customer(customer.id),
        "bot.message_received",
        subject_type="bot_conversation",
        subject_id=conversation.id,
        data={
            "message_id": incoming.id,
            "intent": prediction.label,
            "confidence": round(prediction.confidence, 3),
            "language": language,
        },
    )
    for warning in warnings:
        exchange.replies.append(_store(session, conversation, Author.BOT, warning))

    intent = _choose_intent(conversation, prediction, redacted.text)
    article = (
        flows.open_question(session, services, redacted.text, language) if intent is None else None
    )
    if article is not None:
        conversation.misunderstood = 0
        conversation.facts = {**(conversation.facts or {}), "kb_article": article.url}
        exchange.replies.append(
            _store(session, conversation, Author.BOT, flows.article_reply(article))
        )
        return exchange
    if intent is None:
        conversation.misunderstood += 1
        if conversation.misunderstood < 2:
            exchange.replies.append(
                _store(session, conversation, Author.BOT, translate(REPHRASE, language))
            )
            return exchange
        reason = "out_of_scope" if prediction.top_label == OOS else "low_confidence"
        outcome = flows.Outcome(
            [translate(flows.HANDING_OFF, language)],
            handoff=flows.handoff_for(conversation.intent, reason),
        )
    else:
        conversation.misunderstood = 0
        if intent != conversation.intent:
            conversation.intent, conversation.flow_step = intent, None
            conversation.confidence = prediction.confidence
            conversation.facts = {}
        turn = flows.Turn(
            session=session,
            customer=customer,
            services=services,
            text=redacted.text,
            language=language,
            step=conversation.flow_step,
            facts=dict(conversation.facts or {}),
        )
        outcome = flows.FLOWS[intent](turn)
        conversation.flow_step = outcome.step
        conversation.facts = {**(conversation.facts or {}), **outcome.facts}
    for reply in outcome.replies:
        exchange.replies.append(
            _store(session, conversation, Author.BOT, reply, intent=conversation.intent)
        )
    if outcome.handoff is not None:
        exchange.ticket = hand_off(session, conversation, customer, outcome.handoff)
    return exchange


def _choose_intent(conversation: Conversation, prediction: Prediction, text: str) -> str | None:
    """A flow waiting for input keeps the conversation unless the customer clearly moved on
    (asks for a person, reports a compromise, or says something else with high confidence)."""
    waiting = conversation.intent in flows.FLOWS and conversation.flow_step is not None
    if waiting:
        moved_on = prediction.in_scope and (
            prediction.label in INTERRUPTING
            or (
                prediction.label != conversation.intent
                and prediction.confidence >= SWITCH_CONFIDENCE
            )
        )
        if not moved_on or flows.find_tx_hash(text) is not None:
            return conversation.intent
    if not prediction.in_scope:
        return None
    return prediction.label if prediction.label in flows.FLOWS else None


def _relay_to_ticket(
    session: Session,
    conversation: Conversation,
    customer: Customer,
    redacted: Redacted,
    warnings: list[str],
) -> Exchange | None:
    """After handoff the customer talks to the ticket. Returns None when the ticket is closed
    (the conversation is the bot's again)."""
    ticket = session.get(Ticket, conversation.ticket_id) if conversation.ticket_id else None
    if ticket is None or ticket.status == Status.CLOSED:
        conversation.status = ConversationStatus.BOT
        conversation.ticket_id = None
        conversation.intent = conversation.flow_step = conversation.handoff_reason = None
        conversation.facts = {}
        conversation.misunderstood = 0
        return None
    incoming = _store(
        session,
        conversation,
        Author.CUSTOMER,
        redacted.text,
        redactions=[str(k) for k in redacted.kinds],
    )
    tickets.add_message(
        session,
        ticket,
        kind=MessageKind.CUSTOMER,
        actor=Actor.customer(customer.id),
        body=redacted.text,
    )
    exchange = Exchange(conversation, incoming, warnings=warnings, ticket=ticket)
    if ticket.assignee_id is None:  # nobody owns it yet: say where things stand
        for warning in warnings:
            exchange.replies.append(_store(session, conversation, Author.BOT, warning))
        exchange.replies.append(
            _store(
                session,
                conversation,
                Author.BOT,
                translate(QUEUED, conversation.language, reference=ticket.reference),
            )
        )
    return exchange


def transcript(session: Session, conversation: Conversation) -> str:
    lines = []
    for message in messages(session, conversation):
        lines.append(f"[{message.author}] {message.body}")
    return "\n".join(lines)


def hand_off(
    session: Session, conversation: Conversation, customer: Customer, handoff: flows.Handoff
) -> Ticket:
    language = conversation.language
    # The security protocol already opened an urgent risk ticket for its case: the
    # conversation joins it rather than opening a second one.
    case_ticket_id = (conversation.facts or {}).get("security_ticket_id")
    existing = session.get(Ticket, case_ticket_id) if case_ticket_id else None
    if existing is not None:
        ticket = existing
        tickets.add_message(
            session,
            ticket,
            kind=MessageKind.INTERNAL_NOTE,
            actor=Actor.bot(),
            body=transcript(session, conversation),
        )
    else:
        subject = translate(
            flows.SUBJECTS.get(conversation.intent or "", flows.DEFAULT_SUBJECT), language
        )
        ticket = tickets.create_ticket(
            session,
            customer=customer,
            subject=subject,
            body=transcript(session, conversation),
            category=handoff.category,  # type: ignore[arg-type]
            actor=Actor.bot(),
            priority=handoff.priority,  # type: ignore[arg-type]
            channel=Channel.BOT,
            asset_related=handoff.asset_related,
            language=language,
            tags=["bot-handoff", f"intent-{conversation.intent or 'unknown'}"[:50]],
            tier=Tier.AGENT,
        )
    details: dict[str, Any] = {
        "intent": conversation.intent,
        "confidence": round(conversation.confidence, 3) if conversation.confidence else None,
        "language": language,
        "reason": handoff.reason,
        "facts": conversation.facts or {},
    }
    note = "\n".join(
        [f"Bot handoff — reason: {handoff.reason}"]
        + [f"{key}: {value}" for key, value in details.items() if key != "facts"]
        + [f"fact {key}: {value}" for key, value in sorted((conversation.facts or {}).items())]
    )
    tickets.add_message(
        session, ticket, kind=MessageKind.INTERNAL_NOTE, actor=Actor.bot(), body=note
    )
    conversation.status = ConversationStatus.HANDED_OFF
    conversation.ticket_id = ticket.id
    conversation.handoff_reason = handoff.reason
    conversation.flow_step = None
    record(
        session,
        Actor.bot(),
        "bot.handoff",
        subject_type="bot_conversation",
        subject_id=conversation.id,
        data={"ticket_id": ticket.id, **{k: v for k, v in details.items() if k != "facts"}},
    )
    return ticket


# --- visitors who are not signed in ----------------------------------------------------------

SIGN_IN = N_(
    "To look at your account I need you to sign in first: open the help chat from your "
    "signed-in account and I will take it from there."
)
SIGN_IN_COMPROMISED = N_(
    "If you think someone has taken over your account, sign in and open the help chat now so "
    'we can freeze it. If you can no longer sign in, use the exchange\'s "account locked" '
    "form or support email. Never share your password, codes or recovery phrase."
)


@dataclass(frozen=True)
class PublicAnswer:
    language: str
    intent: str
    confidence: float
    replies: list[str]
    warnings: list[str]


def answer_visitor(
    session: Session,
    text: str,
    *,
    language: str,
    model: IntentClassifier,
    services: BotServices,
) -> PublicAnswer:
    """Public help only: greetings, fees and policy questions from the knowledge base.
    Nothing is stored, no account is looked at and no ticket is opened."""
    text = _clean(text)
    redacted = redact(text)
    language = detect(redacted.text).reply_language or language
    warnings = warnings_for(redacted, language)
    prediction = model.predict(redacted.text)
    intent = prediction.label
    if intent in ("greeting", "thanks"):
        replies = flows.FLOWS[intent](
            _visitor_turn(session, services, redacted.text, language)
        ).replies
    elif intent in ("fees", "policy_question"):
        hit = flows.pick_article(services.search_kb(session, redacted.text, language), intent)
        replies = [flows.article_reply(hit)] if hit else [translate(SIGN_IN, language)]
    elif intent == "account_compromised":
        replies = [translate(SIGN_IN_COMPROMISED, language)]
    elif intent == OOS:
        hit = flows.open_question(session, services, redacted.text, language)
        replies = [flows.article_reply(hit) if hit else translate(REPHRASE, language)]
    else:
        replies = [translate(SIGN_IN, language)]
    return PublicAnswer(language, intent, prediction.confidence, warnings + replies, warnings)


def _visitor_turn(session: Session, services: BotServices, text: str, language: str) -> flows.Turn:
    return flows.Turn(
        session=session,
        customer=None,  # type: ignore[arg-type]  # greeting and thanks never look at it
        services=services,
        text=text,
        language=language,
        step=None,
        facts={},
    )
