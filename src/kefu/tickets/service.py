"""Ticket operations: the lifecycle, routing to queues and tiers, assignment, escalation.

Every write appends a ticket event (the ticket's own history) and an audit entry (the
system's tamper-evident record), in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.orm import Session, lazyload

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.errors import BadRequest, Conflict, InvalidTransition, NotFound, PermissionDenied
from kefu.core.events import publish
from kefu.core.i18n import N_, normalize_language
from kefu.core.ids import new_id
from kefu.identity.models import Agent, Customer
from kefu.identity.permissions import Permission, has_permission
from kefu.tickets.models import (
    Category,
    Channel,
    Message,
    MessageKind,
    Priority,
    Status,
    Team,
    Ticket,
    TicketEvent,
    TicketTag,
    Tier,
)

TIER_ORDER = (Tier.BOT, Tier.AGENT, Tier.RISK)
PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER, Status.PENDING_INTERNAL)

# Allowed status moves. `closed` is final; a solved ticket can be reopened.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(
        {Status.OPEN, Status.PENDING_CUSTOMER, Status.PENDING_INTERNAL, Status.SOLVED}
    ),
    Status.OPEN: frozenset({Status.PENDING_CUSTOMER, Status.PENDING_INTERNAL, Status.SOLVED}),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.PENDING_INTERNAL, Status.SOLVED}),
    Status.PENDING_INTERNAL: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.SOLVED}),
    Status.SOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

MAX_TAGS = 20
_TAGS: Table = TicketTag.__table__  # type: ignore[assignment]

# Published with the new Ticket once it is flushed, in the transaction that creates it (so no
# one else can see it yet); the SLA module starts its clocks on it.
TICKET_CREATED = "ticket.created"
# Published with each new ticket Message once it is flushed (the live chat mirrors agent replies).
TICKET_MESSAGE_ADDED = "ticket.message_added"


class TicketClosed(Conflict):
    code = "ticket_closed"
    message = N_("This ticket is closed; open a new one instead.")


class RiskQueueRequired(Conflict):
    code = "risk_queue_required"
    message = N_("Tickets that touch asset security stay in the risk queue.")


class TierLimit(Conflict):
    code = "tier_limit"
    message = N_("The ticket is already at the %(edge)s tier.")


class AgentNotEligible(Conflict):
    code = "agent_not_eligible"
    message = N_("This agent does not serve the ticket's queue.")


class NoAgentAvailable(Conflict):
    code = "no_agent_available"
    message = N_("No agent serving this queue has capacity right now.")


class EmptyReason(BadRequest):
    code = "reason_required"
    message = N_("A reason is required.")


def touches_asset_security(category: str, asset_related: bool) -> bool:
    return category == Category.SECURITY or asset_related


def route(category: str, asset_related: bool, tier: Tier) -> tuple[Tier, Team]:
    """Where a ticket belongs. Invariant 5: asset security goes to risk, whatever else says."""
    if touches_asset_security(category, asset_related):
        return Tier.RISK, Team.RISK
    if tier == Tier.RISK:
        return Tier.RISK, Team.RISK
    if category == Category.POLICY:
        return tier, Team.COMPLIANCE
    return tier, Team.SUPPORT


def _event(
    session: Session,
    ticket: Ticket,
    kind: str,
    actor: Actor,
    *,
    from_value: str | None = None,
    to_value: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=utcnow(),
        kind=kind,
        actor_type=actor.type,
        actor_id=actor.id,
        from_value=from_value,
        to_value=to_value,
        reason=reason,
        data=data or {},
    )
    session.add(event)
    audit_data: dict[str, Any] = {"from": from_value, "to": to_value, **(data or {})}
    if reason:
        audit_data["reason"] = reason
    record(
        session,
        actor,
        f"ticket.{kind}",
        subject_type="ticket",
        subject_id=ticket.id,
        data=audit_data,
    )
    return event


def _reference(ticket_id: str) -> str:
    # UUIDv7's tail is random; 10 hex digits give a short reference people can read out.
    return "KF-" + ticket_id.replace("-", "")[-10:].upper()


def _require_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise EmptyReason()
    return reason.strip()


def create_ticket(
    session: Session,
    *,
    customer: Customer,
    subject: str,
    body: str,
    category: Category,
    actor: Actor,
    priority: Priority = Priority.NORMAL,
    channel: Channel = Channel.API,
    asset_related: bool = False,
    language: str | None = None,
    tags: list[str] | None = None,
    tier: Tier | None = None,
) -> Ticket:
    start_tier = tier or (Tier.BOT if channel == Channel.BOT else Tier.AGENT)
    routed_tier, team = route(category, asset_related, start_tier)
    if routed_tier == Tier.RISK:
        priority = max(priority, Priority.HIGH, key=PRIORITY_ORDER.index)
    now = utcnow()
    ticket_id = new_id()
    ticket = Ticket(
        id=ticket_id,
        reference=_reference(ticket_id),
        customer_id=customer.id,
        subject=subject.strip(),
        category=category,
        priority=priority,
        status=Status.NEW,
        tier=routed_tier,
        team=team,
        language=normalize_language(language) or customer.language,
        channel=channel,
        asset_related=asset_related,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
        # Given up front, so the new ticket never loads its (empty) tag list from the database.
        tags=[TicketTag(ticket_id=ticket_id, tag=tag) for tag in _clean_tags(tags or [])],
    )
    session.add(ticket)
    # Written first: the message and event refer to it, and no relationship() orders the flush.
    session.flush()
    session.add(
        Message(
            ticket_id=ticket.id,
            # The opening words are the customer's, even when an agent files them on their behalf.
            kind=MessageKind.CUSTOMER,
            author_type=actor.type,
            author_id=actor.id,
            body=body,
            created_at=now,
        )
    )
    _event(
        session,
        ticket,
        "created",
        actor,
        to_value=ticket.status,
        data={
            "category": category,
            "tier": ticket.tier,
            "team": ticket.team,
            "priority": ticket.priority,
            "asset_related": asset_related,
            "channel": channel,
        },
    )
    session.flush()
    publish(session, TICKET_CREATED, ticket)
    return ticket


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({t.strip().lower() for t in tags if t.strip()})
    if len(cleaned) > MAX_TAGS:
        raise BadRequest(N_("A ticket can have at most %(max)s tags."), max=MAX_TAGS)
    for tag in cleaned:
        if len(tag) > 50:
            raise BadRequest(N_("Tags are at most 50 characters long."))
    return cleaned


def get_ticket(session: Session, ticket_id: str) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(kind=N_("Ticket"), id=ticket_id)
    return ticket


# --- who may see what -----------------------------------------------------------------------


def agent_serves_queue(agent: Agent, team: str, language: str) -> bool:
    if team == Team.RISK and not has_permission(agent.role, Permission.RISK_QUEUE):
        return False
    return team in agent.teams and language in agent.languages


def agent_can_access(agent: Agent, ticket: Ticket) -> bool:
    if not agent.active:
        return False
    if ticket.assignee_id == agent.id:
        return True
    if ticket.team == Team.RISK and not has_permission(agent.role, Permission.RISK_QUEUE):
        return False
    if has_permission(agent.role, Permission.TICKETS_READ_ALL_QUEUES):
        return True
    return agent_serves_queue(agent, ticket.team, ticket.language)


def ensure_agent_access(agent: Agent, ticket: Ticket) -> None:
    if not agent_can_access(agent, ticket):
        # Same answer as a missing ticket: an agent learns nothing about queues they don't serve.
        raise NotFound(kind=N_("Ticket"), id=ticket.id)


def ensure_customer_access(customer: Customer, ticket: Ticket) -> None:
    if ticket.customer_id != customer.id:
        raise NotFound(kind=N_("Ticket"), id=ticket.id)


def get_visible_ticket(
    session: Session,
    ticket_id: str,
    *,
    agent: Agent | None = None,
    customer: Customer | None = None,
) -> Ticket:
    """The ticket, if this agent or customer may see it; otherwise the same 404 as a missing
    one. Every route that reads a ticket goes through here."""
    ticket = get_ticket(session, ticket_id)
    if agent is not None:
        ensure_agent_access(agent, ticket)
    elif customer is not None:
        ensure_customer_access(customer, ticket)
    else:
        raise PermissionDenied()
    return ticket


@dataclass(frozen=True)
class TicketFilter:
    status: Sequence[str] | None = None
    team: str | None = None
    language: str | None = None
    tier: str | None = None
    category: str | None = None
    priority: str | None = None
    assignee_id: str | None = None
    customer_id: str | None = None
    tag: str | None = None
    before_id: str | None = None
    limit: int = 50
    # Only tickets nobody is assigned to (the console's "unassigned" filter).
    unassigned: bool = False
    # A reference (KF-…) or words of the subject, case-insensitively.
    text: str | None = None


def _visible_to_agent(stmt: Select[Ticket], agent: Agent) -> Select[Ticket]:
    if has_permission(agent.role, Permission.TICKETS_READ_ALL_QUEUES):
        if not has_permission(agent.role, Permission.RISK_QUEUE):
            stmt = stmt.where((Ticket.team != Team.RISK) | (Ticket.assignee_id == agent.id))
        return stmt
    teams = [
        t
        for t in agent.teams
        if t != Team.RISK or has_permission(agent.role, Permission.RISK_QUEUE)
    ]
    return stmt.where(
        (Ticket.assignee_id == agent.id)
        | (Ticket.team.in_(teams) & Ticket.language.in_(agent.languages))
    )


def list_tickets(
    session: Session,
    filters: TicketFilter,
    *,
    agent: Agent | None = None,
    customer: Customer | None = None,
) -> list[Ticket]:
    """Newest first, keyset-paginated on the time-ordered id (`before_id`); `limit` is the
    caller's business (ask for one more than a page to learn whether another follows).

    Tags are not loaded with the page: `tag_names` fetches a whole page's in one query."""
    stmt = select(Ticket).options(lazyload(Ticket.tags))
    if agent is not None:
        stmt = _visible_to_agent(stmt, agent)
    elif customer is not None:
        stmt = stmt.where(Ticket.customer_id == customer.id)
    else:
        raise PermissionDenied()
    if filters.status:
        stmt = stmt.where(Ticket.status.in_(filters.status))
    for column, value in (
        (Ticket.team, filters.team),
        (Ticket.language, filters.language),
        (Ticket.tier, filters.tier),
        (Ticket.category, filters.category),
        (Ticket.priority, filters.priority),
        (Ticket.assignee_id, filters.assignee_id),
        (Ticket.customer_id, filters.customer_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.tag:
        stmt = stmt.where(
            Ticket.id.in_(select(TicketTag.ticket_id).where(TicketTag.tag == filters.tag.lower()))
        )
    if filters.unassigned:
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    if filters.text and filters.text.strip():
        needle = filters.text.strip().lower()
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            (func.lower(Ticket.reference) == needle)
            | func.lower(Ticket.subject).like(pattern, escape="\\")
        )
    if filters.before_id:
        stmt = stmt.where(Ticket.id < filters.before_id)
    return list(session.scalars(stmt.order_by(Ticket.id.desc()).limit(filters.limit)))


_TAGS_OF_TICKETS = select(_TAGS.c.ticket_id, _TAGS.c.tag).where(
    _TAGS.c.ticket_id.in_(bindparam("ticket_ids", expanding=True))
)


def tag_names(session: Session, tickets: Sequence[Ticket]) -> dict[str, list[str]]:
    """Each ticket's sorted tag names (as `Ticket.tag_names`), for a page of tickets in one
    plain query: much cheaper than building an ORM tag collection per ticket."""
    names: dict[str, list[str]] = {ticket.id: [] for ticket in tickets}
    if names:
        for ticket_id, tag in session.execute(_TAGS_OF_TICKETS, {"ticket_ids": list(names)}):
            names[ticket_id].append(tag)
    return {ticket_id: sorted(tags) for ticket_id, tags in names.items()}


# --- conversation ---------------------------------------------------------------------------


def add_message(
    session: Session,
    ticket: Ticket,
    *,
    kind: MessageKind,
    actor: Actor,
    body: str,
) -> Message:
    """A message also moves the lifecycle: a customer reply reopens, an agent reply counts
    as the first response."""
    if not body.strip():
        raise BadRequest(N_("A message cannot be empty."))
    if ticket.status == Status.CLOSED:
        raise TicketClosed()
    now = utcnow()
    message = Message(
        ticket_id=ticket.id,
        kind=kind,
        author_type=actor.type,
        author_id=actor.id,
        body=body,
        created_at=now,
    )
    session.add(message)
    session.flush()
    if kind == MessageKind.CUSTOMER and ticket.status in (Status.PENDING_CUSTOMER, Status.SOLVED):
        _set_status(session, ticket, Status.OPEN, actor, reason=None)
    elif kind == MessageKind.AGENT:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
        if ticket.status == Status.NEW:
            _set_status(session, ticket, Status.OPEN, actor, reason=None)
    ticket.updated_at = now
    record(
        session,
        actor,
        "ticket.message_added",
        subject_type="ticket",
        subject_id=ticket.id,
        data={"message_id": message.id, "kind": kind},
    )
    publish(session, TICKET_MESSAGE_ADDED, message)
    return message


def list_messages(session: Session, ticket: Ticket, *, include_internal: bool) -> list[Message]:
    stmt = select(Message).where(Message.ticket_id == ticket.id)
    if not include_internal:
        stmt = stmt.where(Message.kind != MessageKind.INTERNAL_NOTE)
    return list(session.scalars(stmt.order_by(Message.created_at, Message.id)))


def list_events(session: Session, ticket: Ticket) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
    )


# --- lifecycle ------------------------------------------------------------------------------


def _set_status(
    session: Session, ticket: Ticket, target: Status, actor: Actor, reason: str | None
) -> None:
    current = Status(ticket.status)
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current=current.value, target=target.value)
    now = utcnow()
    ticket.status = target
    ticket.status_changed_at = now
    ticket.updated_at = now
    if target == Status.SOLVED:
        ticket.solved_at = now
    elif target == Status.CLOSED:
        ticket.closed_at = now
    elif current == Status.SOLVED:
        ticket.solved_at = None
    reopened = current == Status.SOLVED and target == Status.OPEN
    _event(
        session,
        ticket,
        "status_changed",
        actor,
        from_value=current,
        to_value=target,
        reason=reason,
        data={"reopened": reopened},
    )


def change_status(
    session: Session, ticket: Ticket, target: Status, actor: Actor, reason: str | None = None
) -> Ticket:
    _set_status(session, ticket, target, actor, reason)
    session.flush()
    return ticket


def reopen(session: Session, ticket: Ticket, actor: Actor, reason: str | None = None) -> Ticket:
    if ticket.status != Status.SOLVED:
        raise InvalidTransition(current=ticket.status, target="open")
    return change_status(session, ticket, Status.OPEN, actor, reason)


def set_priority(
    session: Session, ticket: Ticket, priority: Priority, actor: Actor, reason: str | None = None
) -> Ticket:
    if ticket.priority == priority:
        return ticket
    previous = ticket.priority
    ticket.priority = priority
    ticket.updated_at = utcnow()
    _event(
        session,
        ticket,
        "priority_changed",
        actor,
        from_value=previous,
        to_value=priority,
        reason=reason,
    )
    session.flush()
    return ticket


def _move_tier(
    session: Session, ticket: Ticket, target: Tier, actor: Actor, reason: str, kind: str
) -> Ticket:
    previous_tier, previous_team = ticket.tier, ticket.team
    tier, team = route(ticket.category, ticket.asset_related, target)
    ticket.tier = tier
    ticket.team = team
    ticket.updated_at = utcnow()
    if team != previous_team:
        # The old team's agent may not serve the new queue: the ticket goes back to the pool.
        ticket.assignee_id = None
    _event(
        session,
        ticket,
        kind,
        actor,
        from_value=previous_tier,
        to_value=tier,
        reason=reason,
        data={"from_team": previous_team, "to_team": team},
    )
    session.flush()
    return ticket


def escalate(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    reason: str | None,
    to_tier: Tier | None = None,
) -> Ticket:
    reason = _require_reason(reason)
    current = TIER_ORDER.index(Tier(ticket.tier))
    if to_tier is None:
        if current == len(TIER_ORDER) - 1:
            raise TierLimit(edge=Tier.RISK.value)
        to_tier = TIER_ORDER[current + 1]
    elif TIER_ORDER.index(to_tier) <= current:
        raise TierLimit(edge=ticket.tier)
    if ticket.status == Status.CLOSED:
        raise TicketClosed()
    return _move_tier(session, ticket, to_tier, actor, reason, "escalated")


def de_escalate(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    reason: str | None,
    to_tier: Tier | None = None,
) -> Ticket:
    reason = _require_reason(reason)
    current = TIER_ORDER.index(Tier(ticket.tier))
    if to_tier is None:
        if current == 0:
            raise TierLimit(edge=Tier.BOT.value)
        to_tier = TIER_ORDER[current - 1]
    elif TIER_ORDER.index(to_tier) >= current:
        raise TierLimit(edge=ticket.tier)
    if touches_asset_security(ticket.category, ticket.asset_related):
        raise RiskQueueRequired()
    if ticket.status == Status.CLOSED:
        raise TicketClosed()
    return _move_tier(session, ticket, to_tier, actor, reason, "de_escalated")


# --- assignment -----------------------------------------------------------------------------


def open_load(session: Session, agent_id: str) -> int:
    return (
        session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.assignee_id == agent_id, Ticket.status.in_(OPEN_STATUSES)
            )
        )
        or 0
    )


def assign(session: Session, ticket: Ticket, agent: Agent, actor: Actor) -> Ticket:
    if not agent.active or not agent_serves_queue(agent, ticket.team, ticket.language):
        raise AgentNotEligible()
    if ticket.status == Status.CLOSED:
        raise TicketClosed()
    return _assign(session, ticket, agent, actor, mode="manual")


def _assign(session: Session, ticket: Ticket, agent: Agent, actor: Actor, mode: str) -> Ticket:
    previous = ticket.assignee_id
    ticket.assignee_id = agent.id
    ticket.updated_at = agent.last_assigned_at = utcnow()
    _event(
        session,
        ticket,
        "assigned",
        actor,
        from_value=previous,
        to_value=agent.id,
        data={"mode": mode},
    )
    session.flush()
    return ticket


def auto_assign(session: Session, ticket: Ticket, actor: Actor) -> Ticket:
    """Round-robin by load: the eligible agent with the fewest open tickets, and among equals
    the one who waited longest since their last assignment."""
    if ticket.status == Status.CLOSED:
        raise TicketClosed()
    candidates = [
        a
        for a in session.scalars(select(Agent).where(Agent.active.is_(True)))
        if agent_serves_queue(a, ticket.team, ticket.language)
    ]
    ranked: list[tuple[int, datetime, str, Agent]] = []
    epoch = datetime.min.replace(tzinfo=utcnow().tzinfo)
    for agent in candidates:
        load = open_load(session, agent.id)
        if load < agent.max_open_tickets:
            ranked.append((load, agent.last_assigned_at or epoch, agent.id, agent))
    if not ranked:
        raise NoAgentAvailable()
    ranked.sort(key=lambda r: (r[0], r[1], r[2]))
    return _assign(session, ticket, ranked[0][3], actor, mode="round_robin")


def unassign(session: Session, ticket: Ticket, actor: Actor) -> Ticket:
    if ticket.assignee_id is None:
        return ticket
    previous = ticket.assignee_id
    ticket.assignee_id = None
    ticket.updated_at = utcnow()
    _event(session, ticket, "unassigned", actor, from_value=previous)
    session.flush()
    return ticket


# --- tags -----------------------------------------------------------------------------------


def set_tags(
    session: Session, ticket: Ticket, actor: Actor, add: list[str], remove: list[str]
) -> Ticket:
    to_add, to_remove = _clean_tags(add), set(_clean_tags(remove))
    existing = {t.tag for t in ticket.tags}
    if len(existing | set(to_add)) - len(to_remove & existing) > MAX_TAGS:
        raise BadRequest(N_("A ticket can have at most %(max)s tags."), max=MAX_TAGS)
    ticket.tags = [t for t in ticket.tags if t.tag not in to_remove]
    for tag in to_add:
        if tag not in existing:
            ticket.tags.append(TicketTag(ticket_id=ticket.id, tag=tag))
    added = sorted(set(to_add) - existing)
    removed = sorted(to_remove & existing)
    if added or removed:
        ticket.updated_at = utcnow()
        _event(session, ticket, "tags_changed", actor, data={"added": added, "removed": removed})
    session.flush()
    return ticket
