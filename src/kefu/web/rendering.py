"""One way to render a page: the template gets the request's language, a `t()` that
translates into it, the CSRF token for its forms, and the signed-in agent (if any)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kefu.core import i18n
from kefu.core.web import request_language
from kefu.identity.documents.service import KIND_LABELS, STATUS_LABELS
from kefu.identity.permissions import Permission, has_permission
from kefu.web.security import (
    LANGUAGE_COOKIE,
    PRE_SESSION_COOKIE,
    csrf_token,
    set_cookie,
    start_pre_session,
)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=WEB_DIR / "templates")

LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文"}


def page_language(request: Request) -> str:
    """The signed-in agent's setting, else the language switch's cookie, else Accept-Language."""
    if not isinstance(getattr(request.state, "language", None), str):
        chosen = i18n.normalize_language(request.cookies.get(LANGUAGE_COOKIE))
        if chosen:
            request.state.language = chosen
    return request_language(request)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    language = page_language(request)
    # A browser without any cookie gets the pre-session one its forms' tokens are bound to.
    new_binding = start_pre_session(request)
    agent = getattr(request.state, "console_agent", None)

    def t(message: str, **params: Any) -> str:
        return i18n.translate(message, language, **params)

    values: dict[str, Any] = {
        "lang": language,
        "languages": LANGUAGE_NAMES,
        "t": t,
        "csrf_token": csrf_token(request),
        "agent": agent,
        "can": lambda name: agent is not None and has_permission(agent.role, Permission(name)),
        "current_path": request.url.path,
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    response.headers["Content-Language"] = language
    response.headers.setdefault("Cache-Control", "no-store")
    if new_binding is not None:
        set_cookie(request, response, PRE_SESSION_COOKIE, new_binding, max_age=3600)
    return response
