"""Portal sessions: the exchange's signed customer token opens one, kefu's cookie carries it.

The exchange's token (`identity.service.verify_customer_token`) proves who the customer is,
for at most `customer_token_max_hours`. The portal trades it once for a session of its own:
a random token in an HttpOnly cookie, stored only as a digest, living
`portal_session_minutes`, revoked at sign-out. The exchange token's digest is kept with the
session and is unique, so a signed link that leaked (browser history, a proxy's log) cannot
open a second session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.errors import NotAuthenticated
from kefu.core.i18n import N_, normalize_language
from kefu.core.settings import Settings
from kefu.identity import service as identity
from kefu.identity.models import Customer
from kefu.web.portal.models import PortalSession


class SignInLinkUsed(NotAuthenticated):
    code = "portal_link_used"
    message = N_(
        "This sign-in link has already been used. Open the help centre again from the "
        "exchange's app or website."
    )


class PortalSignInFailed(NotAuthenticated):
    code = "portal_link_invalid"
    message = N_(
        "This sign-in link is invalid or has expired. Open the help centre again from the "
        "exchange's app or website."
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    token: str
    session: PortalSession
    customer: Customer


def link_customer(db: Session, exchange_token: str) -> Customer | None:
    """Whose link this is, when it is valid and not used yet (else None): lets the sign-in
    page tell a customer who follows a used link while already signed in to carry on."""
    try:
        return identity.verify_customer_token(db, exchange_token)
    except NotAuthenticated:
        return None


def open_session(
    db: Session, settings: Settings, exchange_token: str, language: str | None = None
) -> OpenedSession:
    """Verifies the exchange's token and opens a portal session; refuses a token that has
    opened one already."""
    try:
        customer = identity.verify_customer_token(db, exchange_token)
    except NotAuthenticated:
        raise PortalSignInFailed() from None
    link_hash = _digest(exchange_token)
    if db.scalar(select(PortalSession.id).where(PortalSession.link_hash == link_hash)):
        raise SignInLinkUsed()
    now = utcnow()
    token = secrets.token_urlsafe(32)
    portal_session = PortalSession(
        customer_id=customer.id,
        token_hash=_digest(token),
        link_hash=link_hash,
        language=normalize_language(language) or customer.language,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.portal_session_minutes),
    )
    db.add(portal_session)
    db.flush()
    record(
        db,
        Actor.customer(customer.id),
        "portal.signed_in",
        subject_type="customer",
        subject_id=customer.id,
        data={"portal_session_id": portal_session.id},
    )
    return OpenedSession(token, portal_session, customer)


_SESSION_AND_CUSTOMER = select(PortalSession, Customer).join(
    Customer, Customer.id == PortalSession.customer_id
)


def authenticate(db: Session, token: str) -> tuple[Customer, PortalSession]:
    """The customer behind a portal cookie; an agent's token, an expired or a signed-out
    session is refused alike."""
    found = db.execute(
        _SESSION_AND_CUSTOMER.where(PortalSession.token_hash == _digest(token))
    ).first()
    if found is None:
        raise NotAuthenticated()
    portal_session, customer = found
    if portal_session.revoked_at is not None or portal_session.expires_at <= utcnow():
        raise NotAuthenticated()
    return customer, portal_session


def close_session(db: Session, portal_session: PortalSession) -> None:
    portal_session.revoked_at = utcnow()
    record(
        db,
        Actor.customer(portal_session.customer_id),
        "portal.signed_out",
        subject_type="customer",
        subject_id=portal_session.customer_id,
        data={"portal_session_id": portal_session.id},
    )


def set_language(db: Session, portal_session: PortalSession, language: str) -> None:
    portal_session.language = language
