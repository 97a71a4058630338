"""Who is using the console: the agent behind the session cookie.

Sign-in is a sequence of steps. The password step issues the ordinary agent session (the
same `identity.service.login` the API uses) and puts its token in an HttpOnly, SameSite=Strict
cookie. `pending_step` names the step a session still owes before it may use the console;
every console page asks it, and the sign-in form redirects to it. The second factor is such
a step: it returns the enrolment page (`/console/sign-in/enrol`) or the verification page
(`/console/sign-in/verify`) until the session's `mfa_verified_at` is set. Those pages take
`optional_console_agent` (which does not ask `pending_step`), so a half-signed-in session
reaches it and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.core import i18n
from kefu.core.errors import KefuError, NotAuthenticated, PermissionDenied
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity import service as identity
from kefu.identity.mfa.agents import mfa_required_for
from kefu.identity.models import Agent, AgentSession
from kefu.identity.permissions import Permission, has_permission
from kefu.web.security import SESSION_COOKIE

HOME = "/console"
SIGN_IN = "/console/sign-in"


@dataclass
class ConsoleAgent:
    agent: Agent
    session: AgentSession

    @property
    def actor(self) -> Actor:
        return Actor.agent(self.agent.id)

    def can(self, permission: Permission) -> bool:
        return has_permission(self.agent.role, permission)


@dataclass(frozen=True)
class AgentView:
    """What pages show of the signed-in agent: plain values, still readable by an error page
    rendered after the request's database session has rolled back."""

    id: str
    display_name: str
    role: str
    language: str


class Redirect(KefuError):
    """Not an error the user sees: the console answers it with 303 to `location`."""

    status = 303
    code = "redirect"

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location


VERIFY = "/console/sign-in/verify"
ENROL = "/console/sign-in/enrol"


def pending_step(
    db: Session, agent: Agent, agent_session: AgentSession, settings: Settings | None = None
) -> str | None:
    """The console path of the sign-in step this session still owes, or None when it may
    use the console: the second factor (`identity.mfa.agents`) — enrolment first for an
    agent whose role requires one and who has no authenticator yet, else its code."""
    if agent_session.mfa_verified_at is not None or not mfa_required_for(agent, settings):
        return None
    return VERIFY if agent.mfa_enrolled else ENROL


def after_password(
    db: Session,
    agent: Agent,
    agent_session: AgentSession,
    next_path: str,
    settings: Settings | None = None,
) -> str:
    """Where the browser goes once the password is right: the next step (carrying
    `next_path` along), else `next_path`."""
    step = pending_step(db, agent, agent_session, settings)
    if step is None:
        return next_path
    return step if next_path == HOME else f"{step}?next={quote(safe_next(next_path), safe='/')}"


def safe_next(value: str | None) -> str:
    """Only console paths on this site: `next` must not become an open redirect."""
    if value and value.startswith(HOME) and not value.startswith("//") and "\\" not in value:
        return value
    return HOME


def sign_in_url(next_path: str) -> str:
    return f"{SIGN_IN}?next={quote(safe_next(next_path), safe='/')}"


def optional_console_agent(request: Request, db: DbSession) -> ConsoleAgent | None:
    """The signed-in agent, or None (no cookie, expired, revoked or inactive)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        agent, agent_session = identity.authenticate_agent(db, token)
    except NotAuthenticated:
        return None
    request.state.language = agent.language
    i18n.set_language(agent.language)
    user = ConsoleAgent(agent, agent_session)
    request.state.console_agent = AgentView(
        agent.id, agent.display_name, agent.role, agent.language
    )
    return user


def console_agent(
    request: Request,
    db: DbSession,
    user: Annotated[ConsoleAgent | None, Depends(optional_console_agent)],
) -> ConsoleAgent:
    """Every console page: signed out → the sign-in page, coming back here afterwards."""
    if user is None:
        path = request.url.path
        if request.method == "GET" and request.url.query:
            path = f"{path}?{request.url.query}"
        raise Redirect(sign_in_url(path if request.method == "GET" else HOME))
    step = pending_step(db, user.agent, user.session, request.app.state.settings)
    if step is not None:
        raise Redirect(step)
    return user


SignedIn = Annotated[ConsoleAgent, Depends(console_agent)]


def console_require(permission: Permission) -> Callable[[ConsoleAgent], ConsoleAgent]:
    def check(user: SignedIn) -> ConsoleAgent:
        if not user.can(permission):
            raise PermissionDenied()
        return user

    return check
