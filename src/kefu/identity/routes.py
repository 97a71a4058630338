"""Sign-in, agents and the customer mirror."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from kefu.audit.service import record
from kefu.core.web import DbSession, IdempotencyKey, idempotent_create
from kefu.identity import service
from kefu.identity.deps import CurrentAgent, PendingAgent, Principal, require
from kefu.identity.mfa import agents as agent_mfa
from kefu.identity.permissions import Permission
from kefu.identity.schemas import (
    AgentCreate,
    AgentOut,
    CustomerIn,
    CustomerOut,
    LoginRequest,
    LoginResponse,
)

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.post("/auth/login", response_model=LoginResponse)
def login(request: Request, body: LoginRequest, db: DbSession) -> LoginResponse:
    """Password first; where the role requires a second factor (`mfa_required`), the token
    serves only `/mfa/...` (enrol: `POST /mfa/totp` then `/mfa/totp/confirm`; or prove it:
    `POST /mfa/verify`) until the factor is proven."""
    try:
        issued = service.login(db, body.email, body.password)
    except (service.InvalidCredentials, service.SignInLocked):
        db.commit()  # keep the record of the failed or throttled attempt
        raise
    return LoginResponse(
        token=issued.token,
        expires_at=issued.session.expires_at,
        agent_id=issued.agent.id,
        role=issued.agent.role,
        mfa_required=agent_mfa.mfa_required_for(issued.agent, request.app.state.settings),
        mfa_enrolled=issued.agent.mfa_enrolled,
    )


@router.post("/auth/logout", status_code=204)
def logout(principal: PendingAgent, db: DbSession) -> Response:
    assert principal.agent_session is not None
    service.logout(db, db.merge(principal.agent_session))
    return Response(status_code=204)


@router.get("/auth/me", response_model=AgentOut)
def me(principal: CurrentAgent) -> AgentOut:
    return AgentOut.model_validate(principal.agent)


@router.get("/agents", response_model=list[AgentOut])
def list_agents(
    db: DbSession,
    _: Annotated[Principal, Depends(require(Permission.TICKETS_ASSIGN_OTHERS))],
) -> list[AgentOut]:
    return [AgentOut.model_validate(a) for a in service.list_agents(db)]


@router.post("/agents", response_model=AgentOut, status_code=201)
def create_agent(
    request: Request,
    body: AgentCreate,
    db: DbSession,
    principal: Annotated[Principal, Depends(require(Permission.AGENTS_MANAGE))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def create() -> AgentOut:
        agent = service.create_agent(
            db,
            email=body.email,
            display_name=body.display_name,
            password=body.password,
            role=body.role,
            teams=body.teams,
            languages=body.languages,
            language=body.language,
            actor=principal.actor,
        )
        return AgentOut.model_validate(agent)

    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=create,
        secret_fields=frozenset({"password"}),
    )


@router.put("/customers", response_model=CustomerOut)
def upsert_customer(
    body: CustomerIn,
    db: DbSession,
    principal: Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))],
) -> CustomerOut:
    customer = service.upsert_customer(db, **body.model_dump(), actor=principal.actor)
    return CustomerOut.of(customer)


@router.get("/customers/{customer_id}", response_model=CustomerOut)
def get_customer(
    customer_id: str,
    db: DbSession,
    principal: Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))],
) -> CustomerOut:
    customer = service.get_customer(db, customer_id)
    record(db, principal.actor, "customer.read", subject_type="customer", subject_id=customer.id)
    return CustomerOut.of(customer)
