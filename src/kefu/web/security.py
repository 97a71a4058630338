"""What keeps the pages safe in a browser: the console's session cookie, CSRF tokens for
every form that changes something, and the security headers on every HTML response.

The JSON API never reads cookies (it takes the Authorization header only), so a cookie
sent along with a cross-site request can reach nothing but these pages — and every
state-changing page checks a CSRF token.

CSRF tokens are synchronizer tokens bound to the browser's session: an HMAC, under a key
derived from the deployment's data key, of the session cookie (or, before sign-in, of a
random pre-session cookie). A page on another site can neither read the cookie nor compute
the token; a token from one session is worthless in another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.core.errors import PermissionDenied
from kefu.core.i18n import N_
from kefu.core.settings import Settings

SESSION_COOKIE = "kefu_session"
PRE_SESSION_COOKIE = "kefu_presession"
LANGUAGE_COOKIE = "kefu_lang"
CSRF_FIELD = "csrf_token"
PORTAL_SESSION_COOKIE = "kefu_portal"
PORTAL_PREFIX = "/portal"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The API reference pages (Swagger UI, ReDoc) start themselves with an inline script.
_NO_CSP_PATHS = ("/docs", "/redoc")


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"
    message = N_(
        "The form has expired or did not come from this site. Reload the page and try again."
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _csrf_key(settings: Settings) -> bytes:
    return hashlib.sha256(b"kefu-csrf-v1|" + settings.data_encryption_key.encode()).digest()


def _binding(request: Request) -> str | None:
    """The cookie a token is bound to: the session once signed in, else the pre-session.
    The customer portal binds to its own session cookie, never to an agent's."""
    if request.url.path == PORTAL_PREFIX or request.url.path.startswith(PORTAL_PREFIX + "/"):
        session = request.cookies.get(PORTAL_SESSION_COOKIE)
    else:
        session = request.cookies.get(SESSION_COOKIE)
    return session or request.cookies.get(PRE_SESSION_COOKIE)


def csrf_token_for(settings: Settings, binding: str) -> str:
    digest = hmac.new(_csrf_key(settings), binding.encode(), hashlib.sha256).hexdigest()
    return digest


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms; "" when the browser holds no cookie yet (the
    page that sets the pre-session cookie passes its own binding instead)."""
    binding = getattr(request.state, "csrf_binding", None) or _binding(request)
    return csrf_token_for(_settings(request), binding) if binding else ""


async def verify_csrf(request: Request) -> None:
    """A dependency for every state-changing form: refuses (403) a missing or wrong token."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    binding = _binding(request)
    if not isinstance(sent, str) or not binding:
        raise CsrfFailed()
    expected = csrf_token_for(_settings(request), binding)
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfFailed()


def start_pre_session(request: Request) -> str | None:
    """A random value for a signed-out browser's pre-session cookie, which its sign-in
    form's token is bound to; None when the browser already holds a cookie to bind to.
    The caller sets the cookie on the response that carries the form."""
    if _binding(request):
        return None
    value = secrets.token_urlsafe(32)
    request.state.csrf_binding = value
    return value


def secure_cookies(request: Request) -> bool:
    return _settings(request).console_secure_cookies or request.url.scheme == "https"


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=secure_cookies(request)
    )


class SecurityHeadersMiddleware:
    """Adds a strict Content-Security-Policy (no inline script or style), framing and
    referrer rules to every HTML response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_csp = not scope["path"].startswith(_NO_CSP_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    _add_page_headers(headers, with_csp=with_csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add_page_headers(headers: MutableHeaders, *, with_csp: bool) -> None:
    values: dict[str, Any] = {
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if with_csp:
        values["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    for name, value in values.items():
        if name not in headers:
            headers[name] = value
