"""Who is using the portal: the customer behind the portal cookie, and nobody else.

The portal reads only its own cookie (`kefu_portal`), looked up in its own table: an agent's
console cookie means nothing here, and the portal cookie means nothing to the console or the
JSON API (which take no cookies at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from kefu.audit.service import Actor
from kefu.core import i18n
from kefu.core.errors import NotAuthenticated
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity.models import Customer
from kefu.web.console.auth import Redirect
from kefu.web.portal import service
from kefu.web.portal.models import PortalSession
from kefu.web.security import (
    PORTAL_PREFIX,
    PORTAL_SESSION_COOKIE,
    secure_cookies,
)

HOME = PORTAL_PREFIX
SIGN_IN = f"{PORTAL_PREFIX}/sign-in"


@dataclass
class PortalCustomer:
    customer: Customer
    session: PortalSession

    @property
    def actor(self) -> Actor:
        return Actor.customer(self.customer.id)


@dataclass(frozen=True)
class CustomerView:
    """What the layout shows of the signed-in customer: plain values, still readable by an
    error page rendered after the request's database session has rolled back."""

    display_name: str
    external_id: str  # the exchange's id for them: the chat widget's token names it


def safe_next(value: str | None) -> str:
    """Only portal paths on this site: `next` must not become an open redirect."""
    if (
        value
        and (value == HOME or value.startswith(HOME + "/"))
        and "\\" not in value
        and "//" not in value
    ):
        return value
    return HOME


def optional_portal_customer(request: Request, db: DbSession) -> PortalCustomer | None:
    token = request.cookies.get(PORTAL_SESSION_COOKIE)
    if not token:
        return None
    try:
        customer, portal_session = service.authenticate(db, token)
    except NotAuthenticated:
        return None
    request.state.language = portal_session.language
    i18n.set_language(portal_session.language)
    request.state.portal_customer = CustomerView(customer.display_name, customer.external_id)
    return PortalCustomer(customer, portal_session)


MaybeCustomer = Annotated[PortalCustomer | None, Depends(optional_portal_customer)]


def portal_customer(request: Request, user: MaybeCustomer) -> PortalCustomer:
    """Every portal page that shows the customer's own data: signed out → the page that
    explains how to sign in (from the exchange)."""
    if user is None:
        expired = request.cookies.get(PORTAL_SESSION_COOKIE) is not None
        raise Redirect(f"{SIGN_IN}?expired=1" if expired else SIGN_IN)
    return user


SignedInCustomer = Annotated[PortalCustomer, Depends(portal_customer)]


def set_portal_cookie(request: Request, response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        PORTAL_SESSION_COOKIE,
        token,
        max_age=settings.portal_session_minutes * 60,
        path=PORTAL_PREFIX,
        httponly=True,
        # Lax, not Strict: the customer arrives by a link from the exchange's site, and
        # a Strict cookie would not be sent on that first navigation. Every state-changing
        # form still needs its CSRF token.
        samesite="lax",
        secure=secure_cookies(request),
    )


def delete_portal_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        PORTAL_SESSION_COOKIE,
        path=PORTAL_PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
