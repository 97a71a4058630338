"""Agents and customers: argon2 passwords, bearer sessions, and exchange-signed customer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.errors import BadRequest, Conflict, NotAuthenticated, NotFound, RateLimited
from kefu.core.i18n import N_, normalize_language
from kefu.core.settings import get_settings
from kefu.identity.models import (
    Agent,
    AgentSession,
    Customer,
    CustomerTier,
    Role,
    SignInFailure,
)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("kefu-timing-equaliser")


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    message = N_("The email or password is wrong.")


class SignInLocked(RateLimited):
    code = "sign_in_locked"
    message = N_("Too many failed sign-ins; try again in %(minutes)s minutes.")


class InvalidCustomerToken(NotAuthenticated):
    code = "invalid_customer_token"
    message = N_("The customer token is invalid or has expired.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_agent(
    session: Session,
    *,
    email: str,
    display_name: str,
    password: str,
    role: Role = Role.AGENT,
    teams: list[str] | None = None,
    languages: list[str] | None = None,
    language: str = "en",
    actor: Actor | None = None,
) -> Agent:
    email = email.strip().lower()
    if session.scalar(select(Agent.id).where(Agent.email == email)):
        raise Conflict(N_("An agent with this email already exists."))
    if len(password) < 12:
        raise BadRequest(N_("Passwords must have at least 12 characters."))
    agent = Agent(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        teams=teams or ["support"],
        languages=languages or ["en"],
        language=normalize_language(language) or "en",
    )
    session.add(agent)
    session.flush()
    record(
        session,
        actor or Actor.system(),
        "agent.created",
        subject_type="agent",
        subject_id=agent.id,
        data={"role": str(role), "teams": agent.teams},
    )
    return agent


@dataclass(frozen=True)
class IssuedSession:
    token: str
    session: AgentSession
    agent: Agent


def _email_digest(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8")).hexdigest()


def _check_throttle(session: Session, email: str) -> None:
    """Refuse before checking the password once an email has too many recent failures."""
    settings = get_settings()
    since = utcnow() - timedelta(minutes=settings.sign_in_lockout_minutes)
    failures = session.scalar(
        select(func.count(SignInFailure.id)).where(
            SignInFailure.email_digest == _email_digest(email), SignInFailure.at >= since
        )
    )
    if (failures or 0) >= settings.sign_in_max_failures:
        record(session, Actor.system(), "agent.login_throttled", subject_type="agent")
        raise SignInLocked(minutes=settings.sign_in_lockout_minutes)


def _login_failed(session: Session, email: str, agent: Agent | None, reason: str) -> NoReturn:
    """Record the failed attempt (the route commits it despite the error), then refuse."""
    session.add(SignInFailure(email_digest=_email_digest(email), at=utcnow()))
    record(
        session,
        Actor.system(),
        "agent.login_failed",
        subject_type="agent",
        subject_id=agent.id if agent else None,
        data={"reason": reason},
    )
    raise InvalidCredentials()


def login(session: Session, email: str, password: str) -> IssuedSession:
    """Check the password (argon2, constant-time) and issue a bearer token."""
    email = email.strip().lower()
    _check_throttle(session, email)
    agent = session.scalar(select(Agent).where(Agent.email == email))
    try:
        _hasher.verify(agent.password_hash if agent else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        _login_failed(session, email, agent, "password")
    if agent is None or not agent.active:
        _login_failed(session, email, agent, "inactive" if agent else "unknown")
    if _hasher.check_needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    agent_session = AgentSession(
        agent_id=agent.id,
        token_hash=_token_digest(token),
        created_at=now,
        expires_at=now + timedelta(hours=get_settings().agent_session_hours),
    )
    session.add(agent_session)
    session.flush()
    record(
        session,
        Actor.agent(agent.id),
        "agent.login",
        subject_type="agent",
        subject_id=agent.id,
        data={"session_id": agent_session.id},
    )
    return IssuedSession(token, agent_session, agent)


# Built once: every agent request runs it.
_SESSION_AND_AGENT = (
    select(AgentSession, Agent)
    .join(Agent, Agent.id == AgentSession.agent_id)
    .where(AgentSession.token_hash == bindparam("token_hash"))
)


def authenticate_agent(session: Session, token: str) -> tuple[Agent, AgentSession]:
    """The agent behind a bearer token, in one query: every agent request starts here."""
    found = session.execute(_SESSION_AND_AGENT, {"token_hash": _token_digest(token)}).first()
    if found is None:
        raise NotAuthenticated()
    agent_session, agent = found
    if agent_session.revoked_at is not None or agent_session.expires_at <= utcnow():
        raise NotAuthenticated()
    if not agent.active:
        raise NotAuthenticated()
    return agent, agent_session


def logout(session: Session, agent_session: AgentSession) -> None:
    agent_session.revoked_at = utcnow()
    record(
        session,
        Actor.agent(agent_session.agent_id),
        "agent.logout",
        subject_type="agent",
        subject_id=agent_session.agent_id,
    )


# --- customers ---------------------------------------------------------------------------


def sign_customer_token(external_id: str, expires_at: datetime, secret: str | None = None) -> str:
    """What the exchange does to vouch for a logged-in user: HMAC-SHA256 over id and expiry."""
    body = json.dumps(
        {"sub": external_id, "exp": int(expires_at.timestamp())}, separators=(",", ":")
    ).encode()
    key = (secret or get_settings().customer_token_secret).encode()
    signature = hmac.new(key, body, hashlib.sha256).digest()
    encode = base64.urlsafe_b64encode
    return f"{encode(body).decode().rstrip('=')}.{encode(signature).decode().rstrip('=')}"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_customer_token(session: Session, token: str) -> Customer:
    """Check the signature first (constant-time), then the claims; refuse tokens that live
    longer than the configured maximum, so a leaked token cannot serve for months."""
    try:
        body_part, signature_part = token.split(".", 1)
        body, signature = _b64decode(body_part), _b64decode(signature_part)
    except ValueError:
        raise InvalidCustomerToken() from None
    key = get_settings().customer_token_secret.encode()
    if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), signature):
        raise InvalidCustomerToken()
    try:
        claims = json.loads(body)
        external_id, expires = str(claims["sub"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError):
        raise InvalidCustomerToken() from None
    now = utcnow().timestamp()
    longest = get_settings().customer_token_max_hours * 3600
    if not now < expires <= now + longest:
        raise InvalidCustomerToken()
    customer = session.scalar(select(Customer).where(Customer.external_id == external_id))
    if customer is None:
        raise InvalidCustomerToken()
    return customer


def upsert_customer(
    session: Session,
    *,
    external_id: str,
    display_name: str,
    jurisdiction: str,
    language: str = "en",
    email: str | None = None,
    phone: str | None = None,
    tier: str = CustomerTier.STANDARD,
    actor: Actor | None = None,
) -> Customer:
    """Mirror an exchange user: create it, or refresh the fields the exchange owns."""
    if tier not in set(CustomerTier):
        raise BadRequest(N_("Unknown customer tier %(tier)s."), tier=tier)
    customer = session.scalar(select(Customer).where(Customer.external_id == external_id))
    created = customer is None
    if customer is None:
        customer = Customer(external_id=external_id)
        session.add(customer)
    customer.display_name = display_name
    customer.jurisdiction = jurisdiction.upper()
    customer.language = normalize_language(language) or "en"
    customer.email = email
    customer.phone = phone
    customer.tier = tier
    session.flush()
    record(
        session,
        actor or Actor.system(),
        "customer.created" if created else "customer.updated",
        subject_type="customer",
        subject_id=customer.id,
    )
    return customer


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(kind=N_("Customer"), id=customer_id)
    return customer


def get_agent(session: Session, agent_id: str) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(kind=N_("Agent"), id=agent_id)
    return agent


def list_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.email)))
