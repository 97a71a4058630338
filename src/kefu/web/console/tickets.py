"""The console's ticket pages: the queue (filters, SLA urgency order, live timers, a rows
partial the page re-fetches), and the ticket view (conversation with internal notes, reply,
note, macros, status, priority, tags, tier, assignment, timeline) with the customer panel
(masked personal data, reveal with a reason).

Every read goes through `tickets.get_visible_ticket` / `list_tickets` (an agent outside the
ticket's queue gets the same 404 as for a missing ticket), every change through the tickets
service (ticket event + audit entry), every form carries a CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.bot.models import Conversation
from kefu.core.clock import utcnow
from kefu.core.errors import BadRequest, KefuError, PermissionDenied
from kefu.core.i18n import N_
from kefu.core.web import DbSession
from kefu.disputes import service as disputes
from kefu.identity import pii
from kefu.identity import service as identity
from kefu.identity.models import Agent, Customer
from kefu.identity.permissions import Permission
from kefu.kb import service as kb
from kefu.kb.models import TemplateKind
from kefu.security import service as security
from kefu.sla import service as sla
from kefu.tickets import service as tickets
from kefu.tickets.models import MessageKind, Priority, Status, Team, Ticket, Tier
from kefu.web.console import ticket_views as views
from kefu.web.console.auth import ConsoleAgent, console_require
from kefu.web.rendering import page_language, render
from kefu.web.security import verify_csrf

router = APIRouter(prefix="/console/tickets", include_in_schema=False)

Csrf = Depends(verify_csrf)
Reader = Annotated[ConsoleAgent, Depends(console_require(Permission.TICKETS_READ))]
Writer = Annotated[ConsoleAgent, Depends(console_require(Permission.TICKETS_WRITE))]

PAGE_SIZE = 25
# The queue is ordered by SLA urgency, which is computed per ticket: the list considers the
# newest tickets matching the filters, up to this many.
MAX_CANDIDATES = 500
OTHER_TICKETS = 10
MAX_BODY = 20_000


E = TypeVar("E", bound=StrEnum)


class BadFilter(BadRequest):
    code = "bad_filter"
    message = N_("The filter %(name)s has no value %(value)s.")


class Sort(StrEnum):
    URGENCY = "urgency"
    NEWEST = "newest"


def _choice(name: str, value: str, enum: type[E]) -> E | None:
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        raise BadFilter(name=name, value=value[:40]) from None


@dataclass(frozen=True)
class QueueQuery:
    """The list's filters as the form sends them (empty = any)."""

    team: str = ""
    language: str = ""
    status: str = "open"
    tier: str = ""
    priority: str = ""
    assignee: str = ""
    sla: str = ""
    q: str = ""
    sort: str = Sort.URGENCY.value
    page: int = 1

    def params(self, **changes: Any) -> str:
        values = {**self.__dict__, **changes}
        kept = {k: v for k, v in values.items() if v not in ("", None)}
        if kept.get("page") == 1:
            del kept["page"]
        return urlencode(kept)


def _query(
    team: Annotated[str, Query(max_length=20)] = "",
    language: Annotated[str, Query(max_length=10)] = "",
    status: Annotated[str, Query(max_length=20)] = "open",
    tier: Annotated[str, Query(max_length=10)] = "",
    priority: Annotated[str, Query(max_length=10)] = "",
    assignee: Annotated[str, Query(max_length=36)] = "",
    sla: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=10)] = Sort.URGENCY.value,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> QueueQuery:
    return QueueQuery(team, language, status, tier, priority, assignee, sla, q.strip(), sort, page)


Queue = Annotated[QueueQuery, Depends(_query)]


@dataclass
class QueuePage:
    rows: list[views.Row]
    page: int
    has_next: bool
    total: int
    capped: bool


def _queue_page(db: Session, user: ConsoleAgent, query: QueueQuery, now: datetime) -> QueuePage:
    if query.status == "open":
        statuses: list[str] | None = list(tickets.OPEN_STATUSES)
    elif query.status == "all":
        statuses = None
    else:
        chosen = _choice("status", query.status, Status)
        statuses = [chosen] if chosen else None
    if query.language and query.language not in views.LANGUAGE_LABELS:
        raise BadFilter(name="language", value=query.language[:40])
    sla_wanted = _choice("sla", query.sla, views.SlaState)
    sort = _choice("sort", query.sort, Sort) or Sort.URGENCY
    assignee_id: str | None = None
    if query.assignee == "mine":
        assignee_id = user.agent.id
    elif query.assignee not in ("", "unassigned"):
        assignee_id = query.assignee
    filters = tickets.TicketFilter(
        status=statuses,
        team=_choice("team", query.team, Team),
        language=query.language or None,
        tier=_choice("tier", query.tier, Tier),
        priority=_choice("priority", query.priority, Priority),
        assignee_id=assignee_id,
        unassigned=query.assignee == "unassigned",
        text=query.q or None,
        limit=MAX_CANDIDATES + 1,
    )
    found = tickets.list_tickets(db, filters, agent=user.agent)
    capped = len(found) > MAX_CANDIDATES
    found = found[:MAX_CANDIDATES]
    if sort == Sort.URGENCY or sla_wanted is not None:
        rows = [views.row_for(db, t, now) for t in found]
        if sla_wanted is not None:
            rows = [r for r in rows if r.state == sla_wanted]
        if sort == Sort.URGENCY:
            rows = views.by_urgency(rows)
        start = (query.page - 1) * PAGE_SIZE
        shown = rows[start : start + PAGE_SIZE]
        total = len(rows)
    else:
        start = (query.page - 1) * PAGE_SIZE
        shown = [views.row_for(db, t, now) for t in found[start : start + PAGE_SIZE]]
        total = len(found)
    result = QueuePage(shown, query.page, start + PAGE_SIZE < total, total, capped)
    if shown:
        record(
            db,
            user.actor,
            "ticket.listed",
            subject_type="ticket_list",
            data={"count": len(shown), "ids": [r.ticket.id for r in shown], "via": "console"},
        )
    return result


def _agent_names(db: Session) -> dict[str, str]:
    return {a.id: a.display_name for a in identity.list_agents(db)}


def _queue_context(
    request: Request, db: Session, user: ConsoleAgent, query: QueueQuery
) -> dict[str, Any]:
    now = utcnow()
    page = _queue_page(db, user, query, now)
    return {
        "query": query,
        "result": page,
        "now": now,
        "agents": [a for a in identity.list_agents(db) if a.active],
        "agent_names": _agent_names(db),
        "language": page_language(request),
        **_labels(),
    }


def _labels() -> dict[str, Any]:
    return {
        "status_names": views.STATUS_LABELS,
        "priority_names": views.PRIORITY_LABELS,
        "tier_names": views.TIER_LABELS,
        "team_names": views.TEAM_LABELS,
        "language_names": views.LANGUAGE_LABELS,
        "state_names": views.STATE_LABELS,
        "target_names": views.TARGET_LABELS,
        "event_names": views.EVENT_LABELS,
        "actor_names": views.ACTOR_LABELS,
        "timer_text": views.timer_text,
        "event_value": views.event_value,
    }


@router.get("")
def queue(request: Request, db: DbSession, user: Reader, query: Queue) -> Response:
    return render(request, "console/tickets.html", _queue_context(request, db, user, query))


@router.get("/rows")
def queue_rows(request: Request, db: DbSession, user: Reader, query: Queue) -> Response:
    """The list's rows alone: the page's script swaps them in every so often."""
    response = render(
        request, "console/_ticket_rows.html", _queue_context(request, db, user, query)
    )
    response.headers["X-Kefu-Partial"] = "ticket-rows"
    return response


# --- the ticket view ------------------------------------------------------------------------


def _live_chat(db: Session, ticket: Ticket) -> str | None:
    return db.scalar(
        select(Conversation.id)
        .where(Conversation.ticket_id == ticket.id)
        .order_by(Conversation.created_at.desc())
        .limit(1)
    )


def _macros(db: Session, ticket: Ticket) -> list[Any]:
    found = kb.list_templates(db, kind=TemplateKind.MACRO.value)
    mine = [m for m in found if m.language == ticket.language and m.active]
    return mine or [m for m in found if m.active]


def _eligible_agents(db: Session, ticket: Ticket) -> list[Agent]:
    return [
        a
        for a in identity.list_agents(db)
        if a.active and tickets.agent_serves_queue(a, ticket.team, ticket.language)
    ]


def macro_values(ticket: Ticket, customer: Customer | None, extra: str) -> dict[str, str]:
    """The ticket's own variables, then the agent's `name=value` lines (which win)."""
    values = {"ticket_id": ticket.reference, "ticket_subject": ticket.subject}
    if customer is not None:
        values["customer_name"] = customer.display_name
    for line in extra.splitlines():
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            if line.strip():
                raise BadRequest(N_("Write extra values as name=value, one per line."))
            continue
        values[name.strip()] = value.strip()
    return values


def _ticket_page(
    request: Request,
    db: Session,
    user: ConsoleAgent,
    ticket_id: str,
    *,
    error: KefuError | None = None,
    status_code: int = 200,
    reply: str = "",
    note: str = "",
    macro_id: str = "",
    macro_extra: str = "",
    revealed: pii.PiiField | None = None,
    revealed_value: str | None = None,
    reveal_reason: str = "",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    now = utcnow()
    customer = db.get(Customer, ticket.customer_id)
    can_customer = user.can(Permission.CUSTOMERS_READ)
    others: list[Ticket] = []
    cases: list[Any] = []
    if customer is not None and can_customer:
        others = [
            t
            for t in tickets.list_tickets(
                db,
                tickets.TicketFilter(customer_id=customer.id, limit=OTHER_TICKETS + 1),
                agent=user.agent,
            )
            if t.id != ticket.id
        ][:OTHER_TICKETS]
        if user.can(Permission.SECURITY_CASES):
            cases = security.list_cases(db, customer_id=customer.id, limit=10)
    ticket_disputes = (
        disputes.list_disputes(db, ticket.id, agent=user.agent)
        if user.can(Permission.DISPUTES_ANALYSE)
        else []
    )
    profile = pii.masked_profile(customer) if customer is not None and can_customer else []
    if revealed is not None and customer is not None:
        profile = [
            pii.ProfileField(f.field, f.label, revealed_value, True) if f.field == revealed else f
            for f in profile
        ]
    status = sla.sla_status(db, ticket, now)
    record(db, user.actor, "ticket.read", subject_type="ticket", subject_id=ticket.id)
    context = {
        "ticket": ticket,
        "customer": customer,
        "profile": profile,
        "pii_fields": [(f, pii.FIELD_LABELS[f]) for f in pii.PiiField],
        "revealed": revealed,
        "reveal_reason": reveal_reason,
        "messages": tickets.list_messages(db, ticket, include_internal=True),
        "events": tickets.list_events(db, ticket),
        "timers": views.timers(status, now),
        "sla_policy": status.policy_name,
        "now": now,
        "language": page_language(request),
        "agent_names": _agent_names(db),
        "eligible_agents": _eligible_agents(db, ticket),
        "next_statuses": sorted(tickets.TRANSITIONS[Status(ticket.status)], key=list(Status).index),
        "macros": _macros(db, ticket),
        "macro_id": macro_id,
        "macro_extra": macro_extra,
        "reply": reply,
        "note": note,
        "live_chat": _live_chat(db, ticket),
        "others": others,
        "cases": cases,
        "disputes": ticket_disputes,
        "can_write": user.can(Permission.TICKETS_WRITE),
        "can_assign_others": user.can(Permission.TICKETS_ASSIGN_OTHERS),
        "can_customer": can_customer,
        "tier_order": [t.value for t in tickets.TIER_ORDER],
        "error": error,
        **_labels(),
    }
    return render(request, "console/ticket.html", context, status_code=status_code)


@router.get("/{ticket_id}")
def ticket_page(request: Request, ticket_id: str, db: DbSession, user: Reader) -> Response:
    return _ticket_page(request, db, user, ticket_id)


def _back(ticket_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/console/tickets/{ticket_id}{anchor}", status_code=303)


def _failed(
    request: Request, db: Session, user: ConsoleAgent, ticket_id: str, error: KefuError, **kw: Any
) -> Response:
    """The change did not happen: roll it back and show the page again with the reason."""
    db.rollback()
    return _ticket_page(request, db, user, ticket_id, error=error, status_code=error.status, **kw)


@router.post("/{ticket_id}/reply", dependencies=[Csrf])
def reply(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    body: Annotated[str, Form(max_length=MAX_BODY)] = "",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    try:
        tickets.add_message(db, ticket, kind=MessageKind.AGENT, actor=user.actor, body=body)
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error, reply=body)
    return _back(ticket_id, "#conversation")


@router.post("/{ticket_id}/note", dependencies=[Csrf])
def note(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    body: Annotated[str, Form(max_length=MAX_BODY)] = "",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    try:
        tickets.add_message(db, ticket, kind=MessageKind.INTERNAL_NOTE, actor=user.actor, body=body)
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error, note=body)
    return _back(ticket_id, "#conversation")


@router.post("/{ticket_id}/macro", dependencies=[Csrf])
def macro_preview(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    template_id: Annotated[str, Form(max_length=36)] = "",
    extra: Annotated[str, Form(max_length=4000)] = "",
    body: Annotated[str, Form(max_length=MAX_BODY)] = "",
) -> Response:
    """Renders the chosen macro with the ticket's variables (sandboxed, strict: a missing
    variable is an error naming it) into the reply box. Nothing is sent yet."""
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    customer = db.get(Customer, ticket.customer_id)
    kept = {"macro_id": template_id, "macro_extra": extra, "reply": body}
    try:
        if not template_id:
            raise BadRequest(N_("Choose a macro."))
        template = kb.get_template(db, template_id)
        if template.kind != TemplateKind.MACRO.value:
            raise BadRequest(N_("Choose a macro."))
        rendered = kb.render_template(template, macro_values(ticket, customer, extra))
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error, **kept)
    text = f"{body.rstrip()}\n\n{rendered.text}" if body.strip() else rendered.text
    return _ticket_page(
        request, db, user, ticket_id, reply=text, macro_id=template_id, macro_extra=extra
    )


@router.post("/{ticket_id}/status", dependencies=[Csrf])
def change_status(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    status: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    try:
        target = _choice("status", status, Status)
        if target is None:
            raise BadFilter(name="status", value="")
        tickets.change_status(db, ticket, target, user.actor, reason.strip() or None)
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error)
    return _back(ticket_id)


@router.post("/{ticket_id}/priority", dependencies=[Csrf])
def change_priority(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    priority: Annotated[str, Form(max_length=10)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    try:
        target = _choice("priority", priority, Priority)
        if target is None:
            raise BadFilter(name="priority", value="")
        tickets.set_priority(db, ticket, target, user.actor, reason.strip() or None)
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error)
    return _back(ticket_id)


@router.post("/{ticket_id}/tags", dependencies=[Csrf])
def change_tags(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    tags: Annotated[str, Form(max_length=1200)] = "",
) -> Response:
    """The field holds the whole list; the difference is what changes."""
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    wanted = {t.strip().lower() for t in tags.replace("，", ",").split(",") if t.strip()}
    current = set(ticket.tag_names)
    try:
        tickets.set_tags(db, ticket, user.actor, sorted(wanted - current), sorted(current - wanted))
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error)
    return _back(ticket_id)


@router.post("/{ticket_id}/tier", dependencies=[Csrf])
def change_tier(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    direction: Annotated[str, Form(max_length=10)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    try:
        if direction == "up":
            tickets.escalate(db, ticket, user.actor, reason)
        elif direction == "down":
            tickets.de_escalate(db, ticket, user.actor, reason)
        else:
            raise BadFilter(name="direction", value=direction)
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error)
    # Escalating may move the ticket out of this agent's queues: then the queue is next.
    db.flush()
    if not tickets.agent_can_access(user.agent, ticket):
        return RedirectResponse("/console/tickets", status_code=303)
    return _back(ticket_id)


@router.post("/{ticket_id}/assign", dependencies=[Csrf])
def assign(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Writer,
    agent_id: Annotated[str, Form(max_length=36)] = "",
    action: Annotated[str, Form(max_length=10)] = "assign",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    try:
        if action == "unassign":
            if ticket.assignee_id not in (None, user.agent.id) and not user.can(
                Permission.TICKETS_ASSIGN_OTHERS
            ):
                raise PermissionDenied()
            tickets.unassign(db, ticket, user.actor)
        elif action == "me" or agent_id in ("", user.agent.id):
            tickets.assign(db, ticket, user.agent, user.actor)
        else:
            if not user.can(Permission.TICKETS_ASSIGN_OTHERS):
                raise PermissionDenied()
            tickets.assign(db, ticket, identity.get_agent(db, agent_id), user.actor)
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error)
    db.flush()
    if not tickets.agent_can_access(user.agent, ticket):
        return RedirectResponse("/console/tickets", status_code=303)
    return _back(ticket_id)


@router.post("/{ticket_id}/reveal", dependencies=[Csrf])
def reveal(
    request: Request,
    ticket_id: str,
    db: DbSession,
    user: Annotated[ConsoleAgent, Depends(console_require(Permission.CUSTOMERS_READ))],
    field: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=pii.MAX_REASON)] = "",
) -> Response:
    """Shows one field of the ticket's customer unmasked, in this response only; the reveal
    (who, which field, why) is on the audit log."""
    if not user.can(Permission.TICKETS_READ):
        raise PermissionDenied()
    ticket = tickets.get_visible_ticket(db, ticket_id, agent=user.agent)
    customer = identity.get_customer(db, ticket.customer_id)
    try:
        chosen = pii.parse_field(field)
        value = pii.reveal(db, customer, chosen, reason, user.actor, ticket_id=ticket.id)
    except KefuError as error:
        return _failed(request, db, user, ticket_id, error, reveal_reason=reason)
    response = _ticket_page(
        request, db, user, ticket_id, revealed=chosen, revealed_value=value, reveal_reason=""
    )
    response.headers["Cache-Control"] = "no-store"
    return response
