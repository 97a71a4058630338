"""Who is calling: an agent with a bearer session token, or a customer with a token the
exchange signed. Every route depends on one of these; none is open by accident."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from kefu.audit.service import Actor
from kefu.core import i18n
from kefu.core.errors import NotAuthenticated, PermissionDenied
from kefu.core.web import DbSession
from kefu.identity import service
from kefu.identity.mfa.agents import enforce_agent_mfa
from kefu.identity.models import Agent, AgentSession, Customer
from kefu.identity.permissions import Permission, has_permission


@dataclass
class Principal:
    agent: Agent | None = None
    agent_session: AgentSession | None = None
    customer: Customer | None = None

    @property
    def actor(self) -> Actor:
        if self.agent is not None:
            return Actor.agent(self.agent.id)
        assert self.customer is not None
        return Actor.customer(self.customer.id)

    @property
    def key(self) -> str:
        """Identifies the caller for idempotency keys and rate limits."""
        return f"{self.actor.type}:{self.actor.id}"

    def can(self, permission: Permission) -> bool:
        return self.agent is not None and has_permission(self.agent.role, permission)


# Declared as a security scheme so the API reference offers "Authorize". Header only: a
# cookie would be sent by the browser on cross-site requests, so cookie sign-in waits for the
# console and its CSRF protection.
authorization_header = APIKeyHeader(
    name="Authorization",
    scheme_name="kefu",
    description="`Bearer <token from POST /api/v1/auth/login>` for agents, or "
    "`Customer <token signed by the exchange>` for customers.",
    auto_error=False,
)


def _credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, value = (header or "").partition(" ")
    if value.strip():
        return scheme.lower(), value.strip()
    return None


def _use_language(request: Request, language: str) -> None:
    """The user's own setting wins over Accept-Language for everything this request says."""
    request.state.language = language
    i18n.set_language(language)


def pending_principal(
    request: Request,
    db: DbSession,
    authorization: Annotated[str | None, Security(authorization_header)],
) -> Principal:
    """The caller, even an agent whose sign-in still owes its second factor: only the routes
    that enrol or prove that factor (and sign-out) accept such a session."""
    credentials = _credentials(authorization)
    if credentials is None:
        raise NotAuthenticated()
    scheme, value = credentials
    if scheme == "bearer":
        agent, agent_session = service.authenticate_agent(db, value)
        _use_language(request, agent.language)
        return Principal(agent=agent, agent_session=agent_session)
    if scheme == "customer":
        customer = service.verify_customer_token(db, value)
        _use_language(request, customer.language)
        return Principal(customer=customer)
    raise NotAuthenticated()


PendingPrincipal = Annotated[Principal, Depends(pending_principal)]


def current_principal(request: Request, principal: PendingPrincipal) -> Principal:
    """The caller, with an agent's second factor proven where their role requires it."""
    if principal.agent is not None and principal.agent_session is not None:
        enforce_agent_mfa(principal.agent, principal.agent_session, request.app.state.settings)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def pending_agent(principal: PendingPrincipal) -> Principal:
    if principal.agent is None:
        raise PermissionDenied()
    return principal


PendingAgent = Annotated[Principal, Depends(pending_agent)]


def current_agent(principal: CurrentPrincipal) -> Principal:
    if principal.agent is None:
        raise PermissionDenied()
    return principal


CurrentAgent = Annotated[Principal, Depends(current_agent)]


def require(permission: Permission) -> Callable[[Principal], Principal]:
    def check(principal: CurrentAgent) -> Principal:
        if not principal.can(permission):
            raise PermissionDenied()
        return principal

    return check
