"""SLA operations: matching a policy to a ticket, computing its clocks, and the breach job.

A ticket keeps the policy it matched first for its whole life, so editing policies never
moves the goalposts of tickets already open. Clocks count calendar or business seconds
from the ticket's creation (or, for next response, from the customer message that started
the wait) and stop while the ticket waits for the customer.

`scan_breaches` is the job: it records each breach at most once (a unique key on ticket,
target and cycle) and escalates in the same transaction, so two workers racing on the same
ticket cannot both escalate it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import as_utc, utcnow
from kefu.core.errors import Conflict, NotFound, ValidationFailed
from kefu.core.i18n import N_
from kefu.core.ids import new_id
from kefu.identity.models import Customer
from kefu.sla.calendar import (
    BusinessHours,
    Calendar,
    CalendarHours,
    Interval,
    active_seconds_between,
    due_after,
)
from kefu.sla.models import BusinessCalendar, SlaBreach, SlaPolicy, TicketSla
from kefu.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate
from kefu.tickets import service as ticket_service
from kefu.tickets.models import (
    Category,
    Message,
    MessageKind,
    Priority,
    Status,
    Ticket,
    TicketEvent,
    Tier,
)

# The clock stands still while the ticket waits for the customer, and while it is solved (which
# only matters once it is reopened: the days it sat solved are not the desk's delay).
PAUSING_STATUSES = frozenset({Status.PENDING_CUSTOMER, Status.SOLVED})
DONE_STATUSES = frozenset({Status.SOLVED, Status.CLOSED})


class Target(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class TargetState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class CalendarRequired(ValidationFailed):
    code = "calendar_required"
    message = N_("Business hours need a calendar; choose one for this policy.")


class DuplicateName(Conflict):
    code = "duplicate_name"
    message = N_("The name %(name)s is already taken.")


@dataclass(frozen=True)
class TargetStatus:
    """One SLA clock. `remaining_seconds` is negative by how much an overdue clock is late."""

    target: Target
    cycle: int
    target_seconds: int
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    elapsed_seconds: float
    remaining_seconds: float
    state: TargetState
    paused: bool


@dataclass(frozen=True)
class SlaStatus:
    """A ticket's clocks now. `targets` holds the current next-response cycle only;
    `next_response_cycles` holds them all (breaches are recorded per cycle)."""

    ticket_id: str
    policy_id: str | None
    policy_name: str | None
    business_hours: bool
    paused: bool
    computed_at: datetime
    targets: list[TargetStatus] = field(default_factory=list)
    next_response_cycles: list[TargetStatus] = field(default_factory=list)

    def target(self, name: Target | str) -> TargetStatus | None:
        return next((t for t in self.targets if t.target == name), None)


# --- calendars -------------------------------------------------------------------------------


def calendar_from_model(model: BusinessCalendar) -> BusinessHours:
    return BusinessHours.from_spec(model.timezone, model.weekly_hours, model.holidays or [])


def policy_calendar(session: Session, policy: SlaPolicy) -> Calendar:
    """The clock a policy counts with; a business-hours policy without a calendar counts 24/7."""
    if policy.business_hours and policy.calendar_id is not None:
        model = session.get(BusinessCalendar, policy.calendar_id)
        if model is not None:
            return calendar_from_model(model)
    return CalendarHours()


def get_calendar(session: Session, calendar_id: str) -> BusinessCalendar:
    model = session.get(BusinessCalendar, calendar_id)
    if model is None:
        raise NotFound(kind=N_("Business calendar"), id=calendar_id)
    return model


def list_calendars(session: Session) -> list[BusinessCalendar]:
    return list(session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.name)))


def _check_calendar_name(session: Session, name: str, exclude_id: str | None = None) -> None:
    stmt = select(BusinessCalendar.id).where(BusinessCalendar.name == name)
    if exclude_id is not None:
        stmt = stmt.where(BusinessCalendar.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise DuplicateName(name=name)


def create_calendar(session: Session, data: CalendarCreate, actor: Actor) -> BusinessCalendar:
    _check_calendar_name(session, data.name)
    now = utcnow()
    model = BusinessCalendar(
        name=data.name,
        timezone=data.timezone,
        weekly_hours=data.weekly_hours,
        holidays=data.holidays,
        created_at=now,
        updated_at=now,
    )
    session.add(model)
    session.flush()
    record(
        session,
        actor,
        "sla.calendar_created",
        subject_type="business_calendar",
        subject_id=model.id,
        data=data.model_dump(),
    )
    return model


def update_calendar(
    session: Session, calendar_id: str, data: CalendarUpdate, actor: Actor
) -> BusinessCalendar:
    model = get_calendar(session, calendar_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        _check_calendar_name(session, changes["name"], exclude_id=model.id)
    for key, value in changes.items():
        setattr(model, key, value)
    # Check the combination too: the stored shape must always build a calendar.
    try:
        calendar_from_model(model)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    model.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "sla.calendar_updated",
        subject_type="business_calendar",
        subject_id=model.id,
        data=changes,
    )
    return model


# --- policies --------------------------------------------------------------------------------


def get_policy(session: Session, policy_id: str) -> SlaPolicy:
    policy = session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound(kind=N_("SLA policy"), id=policy_id)
    return policy


def list_policies(session: Session, *, include_inactive: bool = True) -> list[SlaPolicy]:
    stmt = select(SlaPolicy)
    if not include_inactive:
        stmt = stmt.where(SlaPolicy.active.is_(True))
    return list(session.scalars(stmt.order_by(SlaPolicy.position, SlaPolicy.id)))


def _renumber(policies: Sequence[SlaPolicy]) -> None:
    for index, policy in enumerate(policies, start=1):
        if policy.position != index:
            policy.position = index


def _place(session: Session, policy: SlaPolicy, position: int | None) -> None:
    """Put `policy` at a 1-based position (None: last) and keep positions dense."""
    others = [p for p in list_policies(session) if p.id != policy.id]
    index = len(others) if position is None else min(max(position, 1) - 1, len(others))
    others.insert(index, policy)
    _renumber(others)


def _check_calendar_ref(session: Session, business_hours: bool, calendar_id: str | None) -> None:
    if calendar_id is not None:
        get_calendar(session, calendar_id)
    if business_hours and calendar_id is None:
        raise CalendarRequired()


def _policy_data(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "position": policy.position,
        "active": policy.active,
        "jurisdictions": policy.jurisdictions,
        "languages": policy.languages,
        "categories": policy.categories,
        "priorities": policy.priorities,
        "customer_tiers": policy.customer_tiers,
        "first_response_minutes": policy.first_response_minutes,
        "next_response_minutes": policy.next_response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "business_hours": policy.business_hours,
        "calendar_id": policy.calendar_id,
    }


def create_policy(session: Session, data: PolicyCreate, actor: Actor) -> SlaPolicy:
    _check_calendar_ref(session, data.business_hours, data.calendar_id)
    now = utcnow()
    policy = SlaPolicy(
        **data.model_dump(exclude={"position"}),
        position=0,
        created_at=now,
        updated_at=now,
    )
    session.add(policy)
    session.flush()
    _place(session, policy, data.position)
    session.flush()
    record(
        session,
        actor,
        "sla.policy_created",
        subject_type="sla_policy",
        subject_id=policy.id,
        data=_policy_data(policy),
    )
    return policy


def update_policy(session: Session, policy_id: str, data: PolicyUpdate, actor: Actor) -> SlaPolicy:
    """Change only what was sent. Tickets already matched keep their policy id, and so
    see target changes: policies are edited deliberately, by supervisors."""
    policy = get_policy(session, policy_id)
    changes = data.model_dump(exclude_unset=True)
    position = changes.pop("position", None)
    for key in ("name", "active", "business_hours", *_LIST_FIELDS):
        if key in changes and changes[key] is None:
            changes.pop(key)  # these cannot be cleared, only changed
    for key, value in changes.items():
        setattr(policy, key, value)
    _check_calendar_ref(session, policy.business_hours, policy.calendar_id)
    if (
        policy.first_response_minutes is None
        and policy.next_response_minutes is None
        and policy.resolution_minutes is None
    ):
        raise ValidationFailed(N_("A policy needs at least one target."))
    if position is not None:
        _place(session, policy, position)
        changes["position"] = position
    policy.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "sla.policy_updated",
        subject_type="sla_policy",
        subject_id=policy.id,
        data=changes,
    )
    return policy


_LIST_FIELDS = ("jurisdictions", "languages", "categories", "priorities", "customer_tiers")


def reorder_policies(session: Session, policy_ids: Sequence[str], actor: Actor) -> list[SlaPolicy]:
    """Set the whole match order at once; the list must name every policy exactly once."""
    policies = {p.id: p for p in list_policies(session)}
    if sorted(policy_ids) != sorted(policies):
        raise ValidationFailed(N_("The new order must list every SLA policy exactly once."))
    ordered = [policies[i] for i in policy_ids]
    _renumber(ordered)
    session.flush()
    record(
        session,
        actor,
        "sla.policies_reordered",
        subject_type="sla_policy",
        data={"order": list(policy_ids)},
    )
    return ordered


def deactivate_policy(session: Session, policy_id: str, actor: Actor) -> SlaPolicy:
    """Policies are never deleted: tickets keep pointing at the one they matched."""
    policy = get_policy(session, policy_id)
    if policy.active:
        policy.active = False
        policy.updated_at = utcnow()
        session.flush()
        record(
            session,
            actor,
            "sla.policy_deactivated",
            subject_type="sla_policy",
            subject_id=policy.id,
        )
    return policy


def ensure_default_policies(session: Session, actor: Actor | None = None) -> list[SlaPolicy]:
    """The promises the product makes out of the box, created only when no policy exists:
    security tickets get a first response within 1 h, everything else within 24 h and a
    resolution within 72 h, all in calendar hours."""
    if session.scalar(select(func.count()).select_from(SlaPolicy)):
        return []
    actor = actor or Actor.system()
    defaults = [
        PolicyCreate(
            name="Security",
            position=1,
            categories=[Category.SECURITY.value],
            first_response_minutes=60,
        ),
        PolicyCreate(
            name="Default",
            position=2,
            first_response_minutes=24 * 60,
            resolution_minutes=72 * 60,
        ),
    ]
    return [create_policy(session, data, actor) for data in defaults]


# --- matching --------------------------------------------------------------------------------


def _language_matches(wanted: Sequence[str], language: str) -> bool:
    """ "zh" in a policy matches a "zh-CN" ticket; "zh-CN" matches only "zh-CN"."""
    language = language.lower()
    primary = language.split("-")[0]
    return any(w.lower() in (language, primary) for w in wanted)


def policy_matches(policy: SlaPolicy, ticket: Ticket, customer: Customer | None) -> bool:
    """Every non-empty criterion must contain the ticket's (or its customer's) value."""
    if policy.jurisdictions and (
        customer is None
        or customer.jurisdiction.upper() not in {j.upper() for j in policy.jurisdictions}
    ):
        return False
    if policy.languages and not _language_matches(policy.languages, ticket.language):
        return False
    if policy.categories and ticket.category not in policy.categories:
        return False
    if policy.priorities and ticket.priority not in policy.priorities:
        return False
    return not policy.customer_tiers or (
        customer is not None and customer.tier in policy.customer_tiers
    )


def match_policy(session: Session, ticket: Ticket, customer: Customer | None) -> SlaPolicy | None:
    """The first active policy, in position order, that matches: first match wins."""
    for policy in list_policies(session, include_inactive=False):
        if policy_matches(policy, ticket, customer):
            return policy
    return None


def attach_policy(session: Session, ticket: Ticket) -> TicketSla | None:
    """Match once and remember: a ticket keeps its first policy for its whole life."""
    existing = session.get(TicketSla, ticket.id)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            return attach_policy_to_new_ticket(session, ticket)
    except IntegrityError:
        # Another worker attached one first; theirs is the ticket's policy.
        return session.get(TicketSla, ticket.id)


def attach_policy_to_new_ticket(session: Session, ticket: Ticket) -> TicketSla | None:
    """`attach_policy` for a ticket created in the caller's transaction. Nobody else can see
    the ticket yet, so it has no link and no worker can race us to one: no lookup, no savepoint
    (every ticket create pays for this)."""
    policy = match_policy(session, ticket, session.get(Customer, ticket.customer_id))
    if policy is None:
        return None
    link = TicketSla(ticket_id=ticket.id, policy_id=policy.id, matched_at=utcnow())
    session.add(link)
    return link


def ticket_policy(session: Session, ticket: Ticket) -> SlaPolicy | None:
    link = session.get(TicketSla, ticket.id)
    return None if link is None else session.get(SlaPolicy, link.policy_id)


# --- clocks ----------------------------------------------------------------------------------


def paused_intervals(
    session: Session, ticket: Ticket, now: datetime
) -> tuple[list[Interval], bool]:
    """When the clock stood still (the ticket waited for the customer) and whether it does now.

    Rebuilt from "status_changed" events: entering pending_customer (or solved) pauses,
    leaving it resumes.
    The ticket row is the tiebreaker if events are missing (e.g. it was created pending).
    """
    events = session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status_changed")
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    pauses: list[Interval] = []
    since: datetime | None = None
    if events and events[0].from_value in PAUSING_STATUSES:
        since = as_utc(ticket.created_at)
    for event in events:
        at = as_utc(event.at)
        if at > now:
            break
        if event.to_value in PAUSING_STATUSES and since is None:
            since = at
        elif event.to_value not in PAUSING_STATUSES and since is not None:
            pauses.append((since, at))
            since = None
    if ticket.status in PAUSING_STATUSES and since is None:
        since = as_utc(ticket.status_changed_at)
    elif ticket.status not in PAUSING_STATUSES and since is not None:
        pauses.append((since, min(as_utc(ticket.status_changed_at), now)))
        since = None
    paused_now = since is not None and since <= now
    if since is not None and since < now:
        pauses.append((since, now))
    return pauses, paused_now


def _clock(
    cal: Calendar,
    target: Target,
    cycle: int,
    minutes: int,
    started_at: datetime,
    met_at: datetime | None,
    pauses: Sequence[Interval],
    paused_now: bool,
    now: datetime,
) -> TargetStatus:
    seconds = minutes * 60
    end = met_at if met_at is not None else now
    end = max(end, started_at)
    relevant = [(a, min(b, end)) for a, b in pauses if a < end]
    elapsed = active_seconds_between(cal, started_at, end, relevant)
    due = due_after(cal, started_at, seconds, relevant)
    if met_at is not None:
        state = TargetState.BREACHED if met_at > due else TargetState.MET
    elif now > due:
        state = TargetState.BREACHED
    else:
        state = TargetState.PAUSED if paused_now else TargetState.RUNNING
    return TargetStatus(
        target=target,
        cycle=cycle,
        target_seconds=seconds,
        started_at=started_at,
        due_at=due,
        met_at=met_at,
        elapsed_seconds=elapsed,
        remaining_seconds=seconds - elapsed,
        state=state,
        paused=paused_now and met_at is None,
    )


def _conversation(session: Session, ticket: Ticket) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.ticket_id == ticket.id,
                Message.kind.in_([MessageKind.CUSTOMER, MessageKind.AGENT]),
            )
            .order_by(Message.created_at, Message.id)
        )
    )


def next_response_waits(messages: Sequence[Message]) -> list[tuple[datetime, datetime | None]]:
    """Each time the customer wrote after an agent's reply, until the next agent reply.

    The index of a wait is its cycle number (0 for the first). Several customer messages in
    a row are one wait; customer messages before any agent reply belong to first response.
    """
    waits: list[tuple[datetime, datetime | None]] = []
    agent_seen = False
    waiting_since: datetime | None = None
    for message in messages:
        at = as_utc(message.created_at)
        if message.kind == MessageKind.AGENT:
            if waiting_since is not None:
                waits.append((waiting_since, at))
                waiting_since = None
            agent_seen = True
        elif agent_seen and waiting_since is None:
            waiting_since = at
    if waiting_since is not None:
        waits.append((waiting_since, None))
    return waits


def _done_at(ticket: Ticket) -> datetime | None:
    if ticket.status not in DONE_STATUSES:
        return None
    done = ticket.solved_at or ticket.closed_at or ticket.status_changed_at
    return as_utc(done)


def sla_status(session: Session, ticket: Ticket, now: datetime | None = None) -> SlaStatus:
    """The ticket's SLA clocks as of `now`. A solved ticket stops every clock: a response
    target still open when it was solved counts as met at the solve."""
    now = as_utc(now or utcnow())
    policy = ticket_policy(session, ticket)
    if policy is None:
        return SlaStatus(ticket.id, None, None, False, False, now)
    cal = policy_calendar(session, policy)
    pauses, paused_now = paused_intervals(session, ticket, now)
    done = _done_at(ticket)
    if done is not None:
        paused_now = False
    created = as_utc(ticket.created_at)
    targets: list[TargetStatus] = []
    cycles: list[TargetStatus] = []

    def clock(
        target: Target, cycle: int, minutes: int, start: datetime, met: datetime | None
    ) -> TargetStatus:
        return _clock(cal, target, cycle, minutes, start, met, pauses, paused_now, now)

    if policy.first_response_minutes is not None:
        first = ticket.first_responded_at
        if first is None:
            first = next(
                (
                    m.created_at
                    for m in _conversation(session, ticket)
                    if m.kind == MessageKind.AGENT
                ),
                None,
            )
        met = as_utc(first) if first is not None else done
        targets.append(clock(Target.FIRST_RESPONSE, 0, policy.first_response_minutes, created, met))
    if policy.next_response_minutes is not None:
        for index, (start, answered) in enumerate(
            next_response_waits(_conversation(session, ticket))
        ):
            met = answered if answered is not None else done
            cycles.append(
                clock(Target.NEXT_RESPONSE, index, policy.next_response_minutes, start, met)
            )
        if cycles:
            targets.append(cycles[-1])
    if policy.resolution_minutes is not None:
        targets.append(clock(Target.RESOLUTION, 0, policy.resolution_minutes, created, done))
    return SlaStatus(
        ticket_id=ticket.id,
        policy_id=policy.id,
        policy_name=policy.name,
        business_hours=not isinstance(cal, CalendarHours),
        paused=paused_now,
        computed_at=now,
        targets=targets,
        next_response_cycles=cycles,
    )


# --- the breach job --------------------------------------------------------------------------


def _claim_breach(
    session: Session, clock: TargetStatus, ticket_id: str, now: datetime
) -> SlaBreach | None:
    """Insert the breach row unless it exists; only the worker whose insert lands escalates."""
    values: dict[str, Any] = {
        "id": new_id(),
        "ticket_id": ticket_id,
        "target": clock.target.value,
        "cycle": clock.cycle,
        "due_at": clock.due_at,
        "detected_at": now,
        "actions": [],
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(SlaBreach)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["ticket_id", "target", "cycle"])
            .returning(SlaBreach.id)
        )
        inserted = session.execute(stmt).scalar_one_or_none()
        return None if inserted is None else session.get(SlaBreach, inserted)
    breach = SlaBreach(**values)
    try:
        with session.begin_nested():
            session.add(breach)
    except IntegrityError:
        return None
    return breach


def _escalate(
    session: Session, ticket: Ticket, clock: TargetStatus, actor: Actor
) -> list[dict[str, Any]]:
    """Hurry an overdue ticket: one priority step up, bot tier to a human, tell a supervisor.

    An SLA breach never moves a ticket from agent to risk: the risk tier is for asset
    security (invariant 5), and a late answer is not a security event.
    """
    actions: list[dict[str, Any]] = [{"type": "notify", "role": "supervisor", "team": ticket.team}]
    reason = f"SLA {clock.target.value} target missed (due {clock.due_at.isoformat()})"
    try:
        current = Priority(ticket.priority)
    except ValueError:
        current = Priority.NORMAL
    order = ticket_service.PRIORITY_ORDER
    step = order.index(current)
    if step < len(order) - 1:
        raised = order[step + 1]
        ticket_service.set_priority(session, ticket, raised, actor, reason)
        actions.append({"type": "priority", "from": current.value, "to": raised.value})
    if ticket.tier == Tier.BOT:
        ticket_service.escalate(session, ticket, actor, reason, to_tier=Tier.AGENT)
        actions.append({"type": "tier", "from": Tier.BOT.value, "to": ticket.tier})
    elif ticket.tier == Tier.AGENT:
        actions.append(
            {
                "type": "tier_kept",
                "tier": Tier.AGENT.value,
                "reason": "an SLA breach does not move a ticket to the risk tier",
            }
        )
    return actions


def scan_breaches(session: Session, now: datetime | None = None) -> list[SlaBreach]:
    """Record and escalate every newly breached target of the open tickets.

    Safe to run often and from several workers at once: a breach is recorded at most once
    per ticket, target and cycle, and only the run that records it escalates. A target met
    late (between two scans) is recorded for the record but not escalated: nothing is left
    to hurry.
    """
    now = as_utc(now or utcnow())
    actor = Actor.system()
    open_filter = [s.value for s in DONE_STATUSES]
    tickets = session.scalars(
        select(Ticket).where(Ticket.status.not_in(open_filter)).order_by(Ticket.created_at)
    ).all()
    # Already recorded breaches are skipped cheaply; the unique key still decides races.
    recorded = {
        (row.ticket_id, row.target, row.cycle)
        for row in session.execute(
            select(SlaBreach.ticket_id, SlaBreach.target, SlaBreach.cycle)
            .join(Ticket, Ticket.id == SlaBreach.ticket_id)
            .where(Ticket.status.not_in(open_filter))
        )
    }
    breaches: list[SlaBreach] = []
    for ticket in tickets:
        if attach_policy(session, ticket) is None:
            continue
        status = sla_status(session, ticket, now)
        clocks = {(c.target, c.cycle): c for c in [*status.targets, *status.next_response_cycles]}
        for clock in clocks.values():
            if clock.state != TargetState.BREACHED:
                continue
            if (ticket.id, clock.target.value, clock.cycle) in recorded:
                continue
            breach = _claim_breach(session, clock, ticket.id, now)
            if breach is None:
                continue  # another worker recorded (and escalated) it
            actions = _escalate(session, ticket, clock, actor) if clock.met_at is None else []
            breach.actions = actions
            event_data = {
                "due_at": clock.due_at.isoformat(),
                "cycle": clock.cycle,
                "policy_id": status.policy_id,
                "breach_id": breach.id,
                "actions": actions,
            }
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=now,
                    kind="sla_breached",
                    actor_type=actor.type,
                    actor_id=actor.id,
                    to_value=clock.target.value,
                    data=event_data,
                )
            )
            record(
                session,
                actor,
                "sla.breached",
                subject_type="ticket",
                subject_id=ticket.id,
                data={"target": clock.target.value, **event_data},
            )
            session.flush()
            breaches.append(breach)
    return breaches


def list_breaches(session: Session, ticket_id: str | None = None) -> list[SlaBreach]:
    stmt = select(SlaBreach)
    if ticket_id is not None:
        stmt = stmt.where(SlaBreach.ticket_id == ticket_id)
    return list(session.scalars(stmt.order_by(SlaBreach.detected_at, SlaBreach.id)))
