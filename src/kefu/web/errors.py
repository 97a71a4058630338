"""Errors on pages are pages: the console answers with an HTML page in the user's language
(or a redirect to sign-in), while every other path keeps its problem JSON."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.core import i18n
from kefu.core.errors import KefuError, ValidationFailed
from kefu.core.i18n import N_
from kefu.web.console.auth import Redirect
from kefu.web.rendering import render

PAGE_PREFIXES = ("/console", "/portal")

_HTTP_MESSAGES = {
    404: N_("This page does not exist."),
    405: N_("This method is not allowed here."),
}


def _is_page(request: Request) -> bool:
    path = request.url.path
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PAGE_PREFIXES)


def _error_page(request: Request, status: int, message: str, **params: object) -> Response:
    language = getattr(request.state, "language", None) or i18n.current_language()
    text = i18n.translate(message, language, **params)
    context = {"status": status, "message": text}
    if request.url.path.startswith("/portal"):
        from kefu.web.portal.routes import page

        return page(request, "portal/error.html", context, status_code=status)
    return render(request, "console/error.html", context, status_code=status)


async def _delegate(handler: Any, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, Response)
    return result


def install_page_error_handlers(app: FastAPI) -> None:
    """Wraps the problem handlers already installed; call after `install_problem_handlers`."""
    json_kefu = app.exception_handlers[KefuError]
    json_validation = app.exception_handlers[RequestValidationError]
    json_http = app.exception_handlers[StarletteHTTPException]

    async def kefu_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KefuError)
        if isinstance(exc, Redirect):
            return RedirectResponse(exc.location, status_code=303)
        if not _is_page(request):
            return await _delegate(json_kefu, request, exc)
        params = {
            k: i18n.translate(v, getattr(request.state, "language", None))
            if isinstance(v, str)
            else v
            for k, v in exc.params.items()
        }
        return _error_page(request, exc.status, exc.message, **params)

    async def validation_error(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await _delegate(json_validation, request, exc)
        return _error_page(request, 422, ValidationFailed.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not _is_page(request) or exc.status_code not in _HTTP_MESSAGES:
            return await _delegate(json_http, request, exc)
        return _error_page(request, exc.status_code, _HTTP_MESSAGES[exc.status_code])

    app.add_exception_handler(KefuError, kefu_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
