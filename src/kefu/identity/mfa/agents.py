"""Agents' second factor at sign-in: mandatory for the roles the settings list.

A fresh sign-in session can only enrol or prove the second factor (and sign out) until it
does; `enforce_agent_mfa` is what every other agent request passes. The console's sign-in
pages call these same functions.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.settings import Settings, get_settings
from kefu.identity.mfa import totp
from kefu.identity.mfa.errors import MfaEnrolmentRequired, MfaRequired, MfaRequiredForRole
from kefu.identity.mfa.models import OwnerType
from kefu.identity.models import Agent, AgentSession


def agent_owner(agent: Agent) -> totp.Owner:
    return totp.Owner(OwnerType.AGENT, agent.id)


def mfa_required_for(agent: Agent, settings: Settings | None = None) -> bool:
    return agent.role in (settings or get_settings()).mfa_required_roles


def enforce_agent_mfa(
    agent: Agent, agent_session: AgentSession, settings: Settings | None = None
) -> None:
    """Refuse a session whose second factor is still owed."""
    if agent_session.mfa_verified_at is not None or not mfa_required_for(agent, settings):
        return
    if not agent.mfa_enrolled:
        raise MfaEnrolmentRequired()
    raise MfaRequired()


def begin_totp_enrolment(
    session: Session, agent: Agent, settings: Settings | None = None
) -> totp.Enrolment:
    return totp.begin_totp_enrolment(
        session, agent_owner(agent), account=agent.email, settings=settings
    )


def confirm_totp_enrolment(
    session: Session,
    agent: Agent,
    agent_session: AgentSession,
    code: str,
    settings: Settings | None = None,
) -> list[str]:
    """Activate the authenticator; the first code also completes this sign-in."""
    codes = totp.confirm_totp_enrolment(session, agent_owner(agent), code, settings=settings)
    agent.mfa_enrolled = True
    agent_session.mfa_verified_at = utcnow()
    return codes


def verify_agent_second_factor(
    session: Session,
    agent_session: AgentSession,
    code: str,
    *,
    factor: str = "totp",
    settings: Settings | None = None,
) -> None:
    """Complete a sign-in with a TOTP or recovery code."""
    owner = totp.Owner(OwnerType.AGENT, agent_session.agent_id)
    totp.verify_factor(session, owner, factor, code, purpose="sign_in", settings=settings)
    agent_session.mfa_verified_at = utcnow()
    record(
        session,
        owner.actor,
        "agent.mfa_verified",
        subject_type="agent",
        subject_id=agent_session.agent_id,
        data={"session_id": agent_session.id, "factor": factor},
    )


def disable_agent_totp(
    session: Session,
    agent: Agent,
    code: str,
    *,
    factor: str = "totp",
    settings: Settings | None = None,
) -> None:
    if mfa_required_for(agent, settings):
        raise MfaRequiredForRole()
    totp.disable_totp(session, agent_owner(agent), code, factor=factor, settings=settings)
    agent.mfa_enrolled = False


def reset_agent_totp(session: Session, agent: Agent, actor: Actor) -> None:
    """An administrator clears a colleague's lost authenticator; they enrol anew at sign-in."""
    totp.remove_totp(session, agent_owner(agent))
    agent.mfa_enrolled = False
    record(session, actor, "mfa.totp_reset", subject_type="agent", subject_id=agent.id)
