"""The SLA API: a ticket's clocks for agents who may see the ticket; policies, calendars and
the breach scan for supervisors and admins (permission `sla.manage`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from kefu.audit.service import record
from kefu.core.web import DbSession, IdempotencyKey, idempotent_create
from kefu.identity.deps import Principal, require
from kefu.identity.permissions import Permission
from kefu.sla import service
from kefu.sla.schemas import (
    BreachOut,
    CalendarCreate,
    CalendarOut,
    CalendarUpdate,
    PolicyCreate,
    PolicyOrder,
    PolicyOut,
    PolicyUpdate,
    SlaStatusOut,
)
from kefu.tickets import service as ticket_service

router = APIRouter(prefix="/api/v1", tags=["sla"])

Reader = Annotated[Principal, Depends(require(Permission.TICKETS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.SLA_MANAGE))]


@router.get("/tickets/{ticket_id}/sla", response_model=SlaStatusOut)
def ticket_sla(ticket_id: str, db: DbSession, principal: Reader) -> SlaStatusOut:
    """SLA clocks are internal: agents who may see the ticket read them, customers do not."""
    ticket = ticket_service.get_visible_ticket(db, ticket_id, agent=principal.agent)
    record(db, principal.actor, "ticket.sla_read", subject_type="ticket", subject_id=ticket.id)
    return SlaStatusOut.model_validate(service.sla_status(db, ticket))


@router.get("/sla/policies", response_model=list[PolicyOut])
def list_policies(db: DbSession, _: Manager) -> list[PolicyOut]:
    return [PolicyOut.model_validate(p) for p in service.list_policies(db)]


@router.post("/sla/policies", status_code=201, response_model=PolicyOut)
def create_policy(
    request: Request,
    body: PolicyCreate,
    db: DbSession,
    principal: Manager,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=lambda: PolicyOut.model_validate(service.create_policy(db, body, principal.actor)),
    )


@router.put("/sla/policies/order", response_model=list[PolicyOut])
def reorder_policies(body: PolicyOrder, db: DbSession, principal: Manager) -> list[PolicyOut]:
    policies = service.reorder_policies(db, body.policy_ids, principal.actor)
    return [PolicyOut.model_validate(p) for p in policies]


@router.get("/sla/policies/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: str, db: DbSession, _: Manager) -> PolicyOut:
    return PolicyOut.model_validate(service.get_policy(db, policy_id))


@router.patch("/sla/policies/{policy_id}", response_model=PolicyOut)
def update_policy(
    policy_id: str, body: PolicyUpdate, db: DbSession, principal: Manager
) -> PolicyOut:
    return PolicyOut.model_validate(service.update_policy(db, policy_id, body, principal.actor))


@router.delete("/sla/policies/{policy_id}", response_model=PolicyOut)
def deactivate_policy(policy_id: str, db: DbSession, principal: Manager) -> PolicyOut:
    """Deactivates: tickets that matched the policy keep it, new tickets no longer match it."""
    return PolicyOut.model_validate(service.deactivate_policy(db, policy_id, principal.actor))


@router.get("/sla/calendars", response_model=list[CalendarOut])
def list_calendars(db: DbSession, _: Manager) -> list[CalendarOut]:
    return [CalendarOut.model_validate(c) for c in service.list_calendars(db)]


@router.post("/sla/calendars", status_code=201, response_model=CalendarOut)
def create_calendar(
    request: Request,
    body: CalendarCreate,
    db: DbSession,
    principal: Manager,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=lambda: CalendarOut.model_validate(
            service.create_calendar(db, body, principal.actor)
        ),
    )


@router.patch("/sla/calendars/{calendar_id}", response_model=CalendarOut)
def update_calendar(
    calendar_id: str, body: CalendarUpdate, db: DbSession, principal: Manager
) -> CalendarOut:
    model = service.update_calendar(db, calendar_id, body, principal.actor)
    return CalendarOut.model_validate(model)


@router.post("/sla/scan", response_model=list[BreachOut])
def scan(db: DbSession, _: Manager) -> list[BreachOut]:
    """Runs the breach job now, e.g. after changing policies; returns what it recorded."""
    return [BreachOut.model_validate(b) for b in service.scan_breaches(db)]
