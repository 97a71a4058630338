"""Pages: the landing page and the agent console (server-rendered, zh-CN and en)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    """Static files, security headers on every HTML response, and error pages for the
    console. Call after the problem handlers are installed."""
    from kefu.web.errors import install_page_error_handlers
    from kefu.web.rendering import STATIC_DIR
    from kefu.web.security import SecurityHeadersMiddleware

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeadersMiddleware)
    install_page_error_handlers(app)
