"""FastAPI glue shared by every domain: the unit-of-work dependency, problem responses
(RFC 9457), the request-language context and the body-size limit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.core import i18n
from kefu.core.errors import (
    KefuError,
    MalformedJson,
    NulCharacter,
    PayloadTooLarge,
    ValidationFailed,
)
from kefu.core.i18n import N_
from kefu.core.idempotency import run_idempotent

log = logging.getLogger("kefu")

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES: dict[int, tuple[str, str]] = {
    404: ("not_found", N_("No such resource.")),
    405: ("method_not_allowed", N_("This method is not allowed here.")),
    413: ("payload_too_large", N_("The request body is too large.")),
}


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on
    any error — so a 2xx means the change is durable and a 4xx/5xx means nothing was written,
    except for refusals marked `keep_writes` (a wrong second factor), whose audit entry and
    failure count are committed before the error is answered."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
        session.commit()
    except KefuError as error:
        # A refused second factor or step-up keeps its audit entry and failure count.
        if error.keep_writes:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db, scope="function")]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def idempotent_create(
    request: Request,
    db: Session,
    *,
    principal: str,
    key: str | None,
    body: BaseModel,
    create: Callable[[], BaseModel],
    status_code: int = 201,
    secret_fields: frozenset[str] = frozenset(),
) -> JSONResponse:
    """Runs `create` once per (caller, Idempotency-Key) and answers retries with the first
    response; the stored answer commits with what it created. `secret_fields` stay out of
    the stored request fingerprint (a fast hash of a password would be guessable)."""
    status, payload = run_idempotent(
        db,
        principal=principal,
        key=key,
        endpoint=f"{request.method} {request.url.path}",
        request_body=body.model_dump(mode="json", exclude=set(secret_fields)),
        status_code=status_code,
        action=lambda: create().model_dump(mode="json"),
    )
    return JSONResponse(payload, status_code=status)


def request_language(request: Request | None) -> str:
    """The user's own language once a route has identified them, else the negotiated one.

    Sync dependencies run in a worker thread, so a context variable they set does not reach
    the exception handlers; `request.state` does."""
    if request is not None:
        language = getattr(request.state, "language", None)
        if isinstance(language, str):
            return language
    return i18n.current_language()


def problem(
    request: Request | None,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://kefu.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    if extra:
        body.update(extra)
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Content-Language": request_language(request)},
    )


def problem_from_error(request: Request | None, error: KefuError) -> JSONResponse:
    language = request_language(request)
    params = {
        k: i18n.translate(v, language) if isinstance(v, str) else v for k, v in error.params.items()
    }
    text = i18n.translate(error.message, language, **params)
    return problem(request, status=error.status, code=error.code, title=text, detail=text)


async def _kefu_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KefuError)
    return problem_from_error(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_from_error(request, MalformedJson())
    fields = [
        {"loc": [str(p) for p in e.get("loc", ())], "type": e.get("type"), "msg": e.get("msg")}
        for e in errors
    ]
    error = ValidationFailed()
    text = i18n.translate(error.message, request_language(request))
    return problem(
        request, status=422, code=error.code, title=text, detail=text, extra={"errors": fields}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, _NulCharacter):
        return problem_from_error(request, NulCharacter())
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    text = i18n.translate(message, request_language(request))
    return problem(request, status=exc.status_code, code=code, title=text)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    text = i18n.translate(
        N_("Something went wrong on our side. Nothing was saved."), request_language(request)
    )
    return problem(request, status=500, code="internal_error", title=text)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KefuError, _kefu_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


class LanguageMiddleware:
    """Sets the request language from Accept-Language; routes that know the user refine it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
            i18n.set_language(i18n.negotiate(header) or i18n.default_language())
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming, before
    any handler sees them — so an oversize request never half-writes anything."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Exact paths (uploads) allowed a larger body than every other route.
        self.larger_limits = dict(larger_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger_limits.get(scope["path"], self.max_bytes)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_from_error(None, PayloadTooLarge(limit=limit))
        await response(scope, receive, send)


class NulCharacterMiddleware:
    """Refuses NUL characters in the path, query or JSON body with 400: PostgreSQL cannot
    store them in text, and no support conversation needs one."""

    _ESCAPED: tuple[bytes, ...] = (b"\\u0000", b"\x00")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if (
            b"%00" in raw_path
            or b"%00" in scope.get("query_string", b"")
            or "\x00" in scope["path"]
        ):
            await self._refuse(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/form-data"):
            # Uploaded files are binary; their routes check what they keep.
            await self.app(scope, receive, send)
            return
        markers = self._ESCAPED
        if content_type.startswith(b"application/x-www-form-urlencoded"):
            markers = (*markers, b"%00")
        tail = b""

        async def checked_receive() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = tail + message.get("body", b"")
                if any(marker in chunk for marker in markers):
                    raise _NulCharacter()
                tail = chunk[-5:]
            return message

        try:
            await self.app(scope, checked_receive, send)
        except _NulCharacter:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_from_error(None, NulCharacter())
        await response(scope, receive, send)


class _NulCharacter(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(400, "nul_character")


class _BodyTooLarge(StarletteHTTPException):
    """Raised from `receive`; an HTTPException so that body parsing passes it through."""

    def __init__(self) -> None:
        super().__init__(413)
