"""Live chat over the bot's conversations.

A chat is a `kefu.bot` conversation with a durable event log: every customer, bot, agent and
system message gets the next sequence number of its conversation, so a client that lost its
connection asks for "everything after N" and misses nothing. A customer message keeps the
client's own id (unique per conversation): a resend after a lost acknowledgement finds the
first copy, so nothing is stored twice.

While the bot owns the conversation, the customer's message runs the bot
(`kefu.bot.service.post_message`) and its replies are appended. After the handoff the bot's
service relays the customer's messages to the ticket; agent replies on the ticket, from any
route, reach the chat through the `ticket.message_added` domain event (`mirror_ticket_message`).
Each append announces itself through `kefu.core.pubsub` (ids and sequence numbers only).

Anti-impersonation: each chat has a verification code that the widget shows next to the
answering agent's public support identity (display name and handle, never the email); the
customer can check both in the exchange's app (`customer_conversations`, `check_code`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.bot import service as bot
from kefu.bot.classifier import IntentClassifier
from kefu.bot.models import Conversation, ConversationStatus
from kefu.bot.services import BotServices
from kefu.core.clock import utcnow
from kefu.core.errors import BadRequest, KefuError, NotFound
from kefu.core.i18n import N_, translate
from kefu.core.pubsub import notify
from kefu.identity.models import Agent, Customer
from kefu.tickets import service as tickets
from kefu.tickets.models import Message, MessageKind, Status, Ticket

from .models import ChatEvent, ChatSession, SupportIdentity

# Unambiguous letters and digits (no 0/O, 1/I/L, U): read aloud or typed from a screen.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A signed-in customer's chat continues in the same conversation for this long of quiet.
RESUME_WINDOW = timedelta(hours=24)
MAX_BACKLOG = 500

HANDED_OFF = N_("You are now in the queue of our support team (request %(reference)s).")
AGENT_JOINED = N_("%(name)s (%(handle)s) from the support team has joined the chat.")


class ChatSessionNotFound(NotFound):
    code = "chat_not_found"
    message = N_("This chat was not found.")


class BadClientId(BadRequest):
    code = "bad_client_id"
    message = N_("Each message needs its own id: 8 to 64 letters, digits, - or _.")


class ChatRateLimited(KefuError):
    status = 429
    code = "chat_rate_limited"
    message = N_("You are sending messages too quickly. Please wait a minute and try again.")


class BadVerificationCode(BadRequest):
    code = "bad_verification_code"
    message = N_("A support code looks like ABCD-2345.")


def topic(conversation_id: str) -> str:
    return f"chat:{conversation_id}"


def new_verification_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(code: str) -> str:
    """Accepts lower case, spaces and a missing dash; refuses anything else."""
    cleaned = re.sub(r"[\s-]", "", code).upper()
    if len(cleaned) != 8 or any(c not in CODE_ALPHABET for c in cleaned):
        raise BadVerificationCode()
    return f"{cleaned[:4]}-{cleaned[4:]}"


# --- support identities -----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentIdentity:
    """What a customer sees of the staff member: never the email."""

    name: str
    handle: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "handle": self.handle}


def support_identity(session: Session, agent: Agent) -> SupportIdentity:
    """The agent's public handle (`@kefu-XXXXXX`), created the first time they chat."""
    identity = session.get(SupportIdentity, agent.id)
    if identity is not None:
        return identity
    while True:
        handle = "@kefu-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6)).lower()
        if session.scalar(select(SupportIdentity.agent_id).where(SupportIdentity.handle == handle)):
            continue
        identity = SupportIdentity(agent_id=agent.id, handle=handle, created_at=utcnow())
        session.add(identity)
        session.flush()
        return identity


def agent_identities(session: Session, agent_ids: set[str]) -> dict[str, AgentIdentity]:
    if not agent_ids:
        return {}
    rows = session.execute(
        select(Agent.id, Agent.display_name, SupportIdentity.handle)
        .join(SupportIdentity, SupportIdentity.agent_id == Agent.id)
        .where(Agent.id.in_(agent_ids))
    )
    return {agent_id: AgentIdentity(name, handle) for agent_id, name, handle in rows}


# --- the log ---------------------------------------------------------------------------------


def ensure_chat(session: Session, conversation: Conversation) -> ChatSession:
    chat = session.get(ChatSession, conversation.id)
    if chat is None:
        now = utcnow()
        chat = ChatSession(
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
            verification_code=new_verification_code(),
            last_seq=0,
            created_at=now,
            updated_at=now,
        )
        session.add(chat)
        session.flush()
    return chat


def _lock(session: Session, conversation_id: str) -> ChatSession:
    """The chat row, locked on PostgreSQL so one conversation's appends run one at a time
    (SQLite's writer lock already serialises them)."""
    chat = session.scalar(
        select(ChatSession)
        .where(ChatSession.conversation_id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if chat is None:
        raise ChatSessionNotFound()
    return chat


def append(
    session: Session,
    conversation_id: str,
    author: str,
    body: str,
    *,
    client_id: str | None = None,
    agent_id: str | None = None,
    ticket_message_id: str | None = None,
) -> ChatEvent:
    seq = session.execute(
        update(ChatSession)
        .where(ChatSession.conversation_id == conversation_id)
        .values(last_seq=ChatSession.last_seq + 1, updated_at=utcnow())
        .returning(ChatSession.last_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    event = ChatEvent(
        conversation_id=conversation_id,
        seq=seq,
        author=author,
        body=body,
        client_id=client_id,
        agent_id=agent_id,
        ticket_message_id=ticket_message_id,
        created_at=utcnow(),
    )
    session.add(event)
    session.flush()
    notify(session, topic(conversation_id), {"kind": "events", "seq": seq})
    return event


def events_after(session: Session, conversation_id: str, seq: int) -> list[ChatEvent]:
    return list(
        session.scalars(
            select(ChatEvent)
            .where(ChatEvent.conversation_id == conversation_id, ChatEvent.seq > seq)
            .order_by(ChatEvent.seq)
            .limit(MAX_BACKLOG)
        )
    )


def event_frame(event: ChatEvent, identities: dict[str, AgentIdentity]) -> dict[str, Any]:
    identity = identities.get(event.agent_id) if event.agent_id else None
    return {
        "type": "event",
        "seq": event.seq,
        "author": event.author,
        "text": event.body,
        "client_id": event.client_id,
        "agent": identity.as_dict() if identity else None,
        "at": event.created_at.isoformat(),
    }


def frames_after(session: Session, conversation_id: str, seq: int) -> list[dict[str, Any]]:
    events = events_after(session, conversation_id, seq)
    identities = agent_identities(session, {e.agent_id for e in events if e.agent_id})
    return [event_frame(e, identities) for e in events]


# --- customers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatState:
    """What the widget shows in its header."""

    conversation_id: str
    verification_code: str
    status: str
    language: str
    last_seq: int
    ticket_reference: str | None
    agent: AgentIdentity | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "verification_code": self.verification_code,
            "status": self.status,
            "language": self.language,
            "last_seq": self.last_seq,
            "ticket_reference": self.ticket_reference,
            "agent": self.agent.as_dict() if self.agent else None,
        }


def state(session: Session, conversation: Conversation, chat: ChatSession) -> ChatState:
    ticket = session.get(Ticket, conversation.ticket_id) if conversation.ticket_id else None
    identity = agent_identities(session, {chat.agent_id}) if chat.agent_id else {}
    return ChatState(
        conversation_id=conversation.id,
        verification_code=chat.verification_code,
        status=conversation.status,
        language=conversation.language,
        last_seq=chat.last_seq,
        ticket_reference=ticket.reference if ticket else None,
        agent=identity.get(chat.agent_id) if chat.agent_id else None,
    )


def open_chat(
    session: Session,
    customer: Customer,
    *,
    conversation_id: str | None = None,
    language: str | None = None,
) -> tuple[Conversation, ChatSession]:
    """The customer's chat: the one named (theirs only), else the latest one still going
    (with a person, or with the bot and recent), else a new one."""
    if conversation_id is not None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.customer_id != customer.id:
            raise ChatSessionNotFound()
        return conversation, ensure_chat(session, conversation)
    latest = session.execute(
        select(Conversation, ChatSession)
        .join(ChatSession, ChatSession.conversation_id == Conversation.id)
        .where(ChatSession.customer_id == customer.id)
        .order_by(ChatSession.created_at.desc())
        .limit(1)
    ).first()
    if latest is not None:
        conversation, chat = latest
        if _still_going(session, conversation, chat):
            return conversation, chat
    conversation = bot.start_conversation(session, customer, language)
    chat = ensure_chat(session, conversation)
    record(
        session,
        Actor.customer(customer.id),
        "chat.started",
        subject_type="bot_conversation",
        subject_id=conversation.id,
    )
    return conversation, chat


def _still_going(session: Session, conversation: Conversation, chat: ChatSession) -> bool:
    if conversation.status == ConversationStatus.HANDED_OFF and conversation.ticket_id:
        ticket = session.get(Ticket, conversation.ticket_id)
        return ticket is not None and ticket.status not in (Status.SOLVED, Status.CLOSED)
    return chat.updated_at > utcnow() - RESUME_WINDOW


@dataclass(frozen=True)
class Posted:
    seq: int
    duplicate: bool


def _recent_customer_messages(session: Session, customer_id: str) -> int:
    since = utcnow() - timedelta(minutes=1)
    return (
        session.scalar(
            select(func.count())
            .select_from(ChatEvent)
            .join(ChatSession, ChatSession.conversation_id == ChatEvent.conversation_id)
            .where(
                ChatSession.customer_id == customer_id,
                ChatEvent.author == "customer",
                ChatEvent.created_at >= since,
            )
        )
        or 0
    )


def post_customer_message(
    session: Session,
    customer: Customer,
    conversation_id: str,
    client_id: str,
    text: str,
    *,
    model: IntentClassifier,
    services: BotServices,
    per_minute: int = 20,
) -> Posted:
    """Store the customer's message once per client id, then let the bot (or, after the
    handoff, the ticket) take it. A resend answers with the first copy's sequence number;
    more than `per_minute` new messages in a minute, over all the customer's chats, are
    refused (the count is in the database, so it holds across connections and workers)."""
    if not CLIENT_ID.match(client_id):
        raise BadClientId()
    chat = _lock(session, conversation_id)
    if chat.customer_id != customer.id:
        raise ChatSessionNotFound()
    existing = session.scalar(
        select(ChatEvent.seq).where(
            ChatEvent.conversation_id == conversation_id, ChatEvent.client_id == client_id
        )
    )
    if existing is not None:
        return Posted(existing, duplicate=True)
    if _recent_customer_messages(session, customer.id) >= per_minute:
        raise ChatRateLimited()
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise ChatSessionNotFound()
    was_handed_off = conversation.status == ConversationStatus.HANDED_OFF
    exchange = bot.post_message(
        session, conversation, customer, text, model=model, services=services
    )
    incoming = append(
        session, conversation_id, "customer", exchange.customer_message.body, client_id=client_id
    )
    for reply in exchange.replies:
        append(session, conversation_id, "bot", reply.body)
    if conversation.status == ConversationStatus.HANDED_OFF and not was_handed_off:
        ticket = exchange.ticket or session.get(Ticket, conversation.ticket_id)
        if ticket is not None:
            body = translate(HANDED_OFF, conversation.language, reference=ticket.reference)
            append(session, conversation_id, "system", body)
    return Posted(incoming.seq, duplicate=False)


# --- agents ----------------------------------------------------------------------------------


def mirror_ticket_message(session: Session, message: Message) -> None:
    """A `ticket.message_added` handler: an agent's reply on a ticket that came from a chat
    is appended to that chat (in the same transaction) and pushed to the customer."""
    if message.kind != MessageKind.AGENT:
        return
    conversation_ids = list(
        session.scalars(
            select(Conversation.id)
            .join(ChatSession, ChatSession.conversation_id == Conversation.id)
            .where(
                Conversation.ticket_id == message.ticket_id,
                Conversation.status == ConversationStatus.HANDED_OFF,
            )
        )
    )
    if not conversation_ids:
        return
    agent = session.get(Agent, message.author_id) if message.author_id else None
    identity = support_identity(session, agent) if agent is not None else None
    for conversation_id in conversation_ids:
        chat = _lock(session, conversation_id)
        if agent is not None and identity is not None and chat.agent_id != agent.id:
            chat.agent_id = agent.id
            conversation = session.get(Conversation, conversation_id)
            language = conversation.language if conversation else "en"
            joined = translate(
                AGENT_JOINED, language, name=agent.display_name, handle=identity.handle
            )
            append(session, conversation_id, "system", joined, agent_id=agent.id)
        append(
            session,
            conversation_id,
            "agent",
            message.body,
            agent_id=agent.id if agent else None,
            ticket_message_id=message.id,
        )


@dataclass(frozen=True)
class AgentChat:
    conversation: Conversation
    chat: ChatSession
    ticket: Ticket
    customer: Customer


def chats_for_agent(session: Session, agent: Agent, limit: int = 100) -> list[AgentChat]:
    """Handed-off chats whose ticket this agent may see (the tickets' own rule), newest
    activity first."""
    rows = session.execute(
        select(Conversation, ChatSession, Ticket, Customer)
        .join(ChatSession, ChatSession.conversation_id == Conversation.id)
        .join(Ticket, Ticket.id == Conversation.ticket_id)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(
            Conversation.status == ConversationStatus.HANDED_OFF,
            Ticket.status.in_(tickets.OPEN_STATUSES),
        )
        .order_by(ChatSession.updated_at.desc())
        .limit(limit * 4)
    ).all()
    visible = [AgentChat(*row) for row in rows if tickets.agent_can_access(agent, row[2])]
    return visible[:limit]


def chat_for_agent(session: Session, agent: Agent, conversation_id: str) -> AgentChat:
    """A chat the agent may see through its ticket; otherwise the same 404 as a missing one."""
    conversation = session.get(Conversation, conversation_id)
    chat = session.get(ChatSession, conversation_id) if conversation else None
    ticket = (
        session.get(Ticket, conversation.ticket_id)
        if conversation is not None and conversation.ticket_id
        else None
    )
    if conversation is None or chat is None or ticket is None:
        raise ChatSessionNotFound()
    if not tickets.agent_can_access(agent, ticket):
        raise ChatSessionNotFound()
    customer = session.get(Customer, conversation.customer_id)
    assert customer is not None
    return AgentChat(conversation, chat, ticket, customer)


def view_transcript(session: Session, agent: Agent, conversation_id: str) -> AgentChat:
    found = chat_for_agent(session, agent, conversation_id)
    record(
        session,
        Actor.agent(agent.id),
        "chat.transcript_viewed",
        subject_type="bot_conversation",
        subject_id=conversation_id,
        data={"ticket_id": found.ticket.id},
    )
    return found


def agent_reply(session: Session, agent: Agent, conversation_id: str, text: str) -> Message:
    """Through the ticket, so the ticket and the chat agree (the mirror appends it). An
    agent who answers a chat nobody owns takes its ticket (when they serve its queue), so
    the bot stops saying the request is waiting for a colleague."""
    found = chat_for_agent(session, agent, conversation_id)
    support_identity(session, agent)
    ticket = found.ticket
    if ticket.assignee_id is None and tickets.agent_serves_queue(
        agent, ticket.team, ticket.language
    ):
        tickets.assign(session, ticket, agent, Actor.agent(agent.id))
    return tickets.add_message(
        session,
        found.ticket,
        kind=MessageKind.AGENT,
        actor=Actor.agent(agent.id),
        body=text.strip(),
    )


# --- what the customer can check in the exchange's app ---------------------------------------


@dataclass(frozen=True)
class ConversationSummary:
    conversation_id: str
    verification_code: str
    status: str
    started_at: datetime
    last_activity_at: datetime
    ticket_reference: str | None
    agent: AgentIdentity | None


def _summaries(session: Session, customer_id: str, code: str | None) -> list[ConversationSummary]:
    stmt = (
        select(ChatSession, Conversation)
        .join(Conversation, Conversation.id == ChatSession.conversation_id)
        .where(ChatSession.customer_id == customer_id)
        .order_by(ChatSession.created_at.desc())
        .limit(100)
    )
    if code is not None:
        stmt = stmt.where(ChatSession.verification_code == code)
    rows = session.execute(stmt).all()
    identities = agent_identities(session, {c.agent_id for c, _ in rows if c.agent_id})
    ticket_ids = {conv.ticket_id for _, conv in rows if conv.ticket_id}
    references: dict[str, str] = {}
    if ticket_ids:
        rows_refs = session.execute(
            select(Ticket.id, Ticket.reference).where(Ticket.id.in_(ticket_ids))
        )
        references = {ticket_id: reference for ticket_id, reference in rows_refs}
    return [
        ConversationSummary(
            conversation_id=conv.id,
            verification_code=chat.verification_code,
            status=conv.status,
            started_at=chat.created_at,
            last_activity_at=chat.updated_at,
            ticket_reference=references.get(conv.ticket_id) if conv.ticket_id else None,
            agent=identities.get(chat.agent_id) if chat.agent_id else None,
        )
        for chat, conv in rows
    ]


def customer_conversations(session: Session, customer_id: str) -> list[ConversationSummary]:
    """The customer's own chats, newest first, with their codes and who answered (audited)."""
    summaries = _summaries(session, customer_id, None)
    record(
        session,
        Actor.customer(customer_id),
        "chat.conversations_listed",
        subject_type="customer",
        subject_id=customer_id,
        data={"count": len(summaries)},
    )
    return summaries


def check_code(session: Session, customer_id: str, code: str) -> ConversationSummary | None:
    """Is this code one of the customer's real chats, and who is the agent? None: it is not
    (whoever showed it is not our support). The code itself is not written to the audit log."""
    normalized = normalize_code(code)
    found = _summaries(session, customer_id, normalized)
    summary = found[0] if found else None
    record(
        session,
        Actor.customer(customer_id),
        "chat.code_checked",
        subject_type="customer",
        subject_id=customer_id,
        data={
            "genuine": summary is not None,
            "conversation_id": summary.conversation_id if summary else None,
        },
    )
    return summary
