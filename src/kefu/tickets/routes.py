"""The tickets API: thin handlers that check access, call the service and shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from kefu.audit.service import record
from kefu.core.errors import BadRequest, PermissionDenied
from kefu.core.i18n import N_, normalize_language
from kefu.core.web import DbSession, IdempotencyKey, idempotent_create
from kefu.identity import service as identity
from kefu.identity.deps import CurrentPrincipal, Principal, require
from kefu.identity.permissions import Permission
from kefu.tickets import service
from kefu.tickets.models import (
    Category,
    MessageKind,
    Priority,
    Status,
    Team,
    Ticket,
    Tier,
)
from kefu.tickets.schemas import (
    Assignment,
    EventOut,
    MessageCreate,
    MessageOut,
    PriorityChange,
    StatusChange,
    TagChange,
    TicketCreate,
    TicketOut,
    TicketPage,
    TierChange,
)

router = APIRouter(prefix="/api/v1", tags=["tickets"])

WriteAgent = Annotated[Principal, Depends(require(Permission.TICKETS_WRITE))]


def load_ticket(db: DbSession, ticket_id: str, principal: Principal) -> Ticket:
    return service.get_visible_ticket(
        db, ticket_id, agent=principal.agent, customer=principal.customer
    )


@router.post("/tickets", status_code=201, response_model=TicketOut)
def create_ticket(
    request: Request,
    body: TicketCreate,
    db: DbSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    if principal.customer is not None:
        customer = principal.customer
    elif principal.can(Permission.TICKETS_WRITE):
        if body.customer_id is None:
            raise BadRequest(N_("customer_id is required when an agent opens a ticket."))
        customer = identity.get_customer(db, body.customer_id)
    else:
        raise PermissionDenied()

    def create() -> TicketOut:
        ticket = service.create_ticket(
            db,
            customer=customer,
            subject=body.subject,
            body=body.body,
            category=body.category,
            priority=body.priority,
            channel=body.channel,
            asset_related=body.asset_related,
            language=body.language,
            tags=body.tags,
            actor=principal.actor,
        )
        return TicketOut.of(ticket)

    return idempotent_create(
        request, db, principal=principal.key, key=idempotency_key, body=body, create=create
    )


@router.get("/tickets", response_model=TicketPage)
def list_tickets(
    db: DbSession,
    principal: CurrentPrincipal,
    status: Annotated[list[Status] | None, Query()] = None,
    team: Team | None = None,
    language: Annotated[str | None, Query(max_length=10)] = None,
    tier: Tier | None = None,
    category: Category | None = None,
    priority: Priority | None = None,
    assignee_id: Annotated[str | None, Query(max_length=36)] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    before_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    filters = service.TicketFilter(
        status=status,
        team=team,
        language=(normalize_language(language) or language) if language else None,
        tier=tier,
        category=category,
        priority=priority,
        assignee_id=assignee_id,
        customer_id=customer_id,
        tag=tag,
        before_id=before_id,
        limit=limit + 1,
    )
    found = service.list_tickets(db, filters, agent=principal.agent, customer=principal.customer)
    tickets, more = found[:limit], len(found) > limit
    tags = service.tag_names(db, tickets)
    # The page is built before the audit entry: from then on the chain head stays locked.
    page = TicketPage(
        items=[TicketOut.of(t, tags[t.id]) for t in tickets],
        next_before_id=tickets[-1].id if more else None,
    )
    if principal.agent is not None and tickets:
        record(
            db,
            principal.actor,
            "ticket.listed",
            subject_type="ticket_list",
            data={"count": len(tickets), "ids": [t.id for t in tickets]},
        )
    return page


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: str, db: DbSession, principal: CurrentPrincipal) -> TicketOut:
    ticket = load_ticket(db, ticket_id, principal)
    record(db, principal.actor, "ticket.read", subject_type="ticket", subject_id=ticket.id)
    return TicketOut.of(ticket)


@router.get("/tickets/{ticket_id}/messages", response_model=list[MessageOut])
def list_messages(ticket_id: str, db: DbSession, principal: CurrentPrincipal) -> list[MessageOut]:
    ticket = load_ticket(db, ticket_id, principal)
    record(db, principal.actor, "ticket.messages_read", subject_type="ticket", subject_id=ticket.id)
    messages = service.list_messages(db, ticket, include_internal=principal.agent is not None)
    return [MessageOut.model_validate(m) for m in messages]


@router.post("/tickets/{ticket_id}/messages", status_code=201, response_model=MessageOut)
def add_message(
    request: Request,
    ticket_id: str,
    body: MessageCreate,
    db: DbSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    ticket = load_ticket(db, ticket_id, principal)
    if principal.customer is not None:
        if body.kind not in (None, MessageKind.CUSTOMER):
            raise PermissionDenied()
        kind = MessageKind.CUSTOMER
    else:
        if not principal.can(Permission.TICKETS_WRITE):
            raise PermissionDenied()
        kind = body.kind or MessageKind.AGENT
        if kind == MessageKind.CUSTOMER:
            raise BadRequest(N_("Agents write replies or internal notes, not customer messages."))

    def create() -> MessageOut:
        message = service.add_message(db, ticket, kind=kind, actor=principal.actor, body=body.body)
        return MessageOut.model_validate(message)

    return idempotent_create(
        request, db, principal=principal.key, key=idempotency_key, body=body, create=create
    )


@router.get("/tickets/{ticket_id}/events", response_model=list[EventOut])
def list_events(ticket_id: str, db: DbSession, principal: WriteAgent) -> list[EventOut]:
    ticket = load_ticket(db, ticket_id, principal)
    return [EventOut.model_validate(e) for e in service.list_events(db, ticket)]


@router.post("/tickets/{ticket_id}/status", response_model=TicketOut)
def change_status(
    ticket_id: str, body: StatusChange, db: DbSession, principal: WriteAgent
) -> TicketOut:
    ticket = load_ticket(db, ticket_id, principal)
    return TicketOut.of(
        service.change_status(db, ticket, body.status, principal.actor, body.reason)
    )


@router.post("/tickets/{ticket_id}/escalate", response_model=TicketOut)
def escalate(ticket_id: str, body: TierChange, db: DbSession, principal: WriteAgent) -> TicketOut:
    ticket = load_ticket(db, ticket_id, principal)
    return TicketOut.of(service.escalate(db, ticket, principal.actor, body.reason, body.to_tier))


@router.post("/tickets/{ticket_id}/de-escalate", response_model=TicketOut)
def de_escalate(
    ticket_id: str, body: TierChange, db: DbSession, principal: WriteAgent
) -> TicketOut:
    ticket = load_ticket(db, ticket_id, principal)
    return TicketOut.of(service.de_escalate(db, ticket, principal.actor, body.reason, body.to_tier))


@router.post("/tickets/{ticket_id}/priority", response_model=TicketOut)
def set_priority(
    ticket_id: str, body: PriorityChange, db: DbSession, principal: WriteAgent
) -> TicketOut:
    ticket = load_ticket(db, ticket_id, principal)
    return TicketOut.of(
        service.set_priority(db, ticket, body.priority, principal.actor, body.reason)
    )


@router.post("/tickets/{ticket_id}/assign", response_model=TicketOut)
def assign(ticket_id: str, body: Assignment, db: DbSession, principal: WriteAgent) -> TicketOut:
    ticket = load_ticket(db, ticket_id, principal)
    assert principal.agent is not None
    if body.auto:
        if body.agent_id is not None:
            raise BadRequest(N_("Give either agent_id or auto, not both."))
        return TicketOut.of(service.auto_assign(db, ticket, principal.actor))
    if body.agent_id is None:
        return TicketOut.of(service.unassign(db, ticket, principal.actor))
    if body.agent_id != principal.agent.id and not principal.can(Permission.TICKETS_ASSIGN_OTHERS):
        raise PermissionDenied()
    agent = identity.get_agent(db, body.agent_id)
    return TicketOut.of(service.assign(db, ticket, agent, principal.actor))


@router.post("/tickets/{ticket_id}/tags", response_model=TicketOut)
def change_tags(ticket_id: str, body: TagChange, db: DbSession, principal: WriteAgent) -> TicketOut:
    ticket = load_ticket(db, ticket_id, principal)
    return TicketOut.of(service.set_tags(db, ticket, principal.actor, body.add, body.remove))
