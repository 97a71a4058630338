"""The ASGI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

from kefu import __version__
from kefu.core.db import make_engine, session_factory
from kefu.core.settings import Settings, get_settings
from kefu.core.web import (
    BodySizeLimitMiddleware,
    LanguageMiddleware,
    NulCharacterMiddleware,
    install_problem_handlers,
)
from kefu.exchange.factory import exchange_for
from kefu.wiring import wire

log = logging.getLogger("kefu")


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    wire()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker: threading.Thread | None = None
        if settings.embedded_worker:
            from kefu.worker import run_forever

            worker = threading.Thread(
                target=run_forever, args=(engine, settings, stop), name="kefu-jobs", daemon=True
            )
            worker.start()
        await app.state.broker.start()
        yield
        await app.state.broker.stop()
        stop.set()
        close = getattr(app.state.exchange, "aclose", None)
        if close is not None:  # the http adapter's connection pool
            await close()
        if worker is not None:
            worker.join(timeout=5)

    # The API reference pages ship their own Swagger UI and ReDoc assets: a self-hosted desk
    # often runs where no CDN can be reached.
    app = FastAPIOffline(
        title="kefu",
        version=__version__,
        description="Support desk for cryptocurrency exchanges.",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.sessionmaker = session_factory(engine)
    app.state.settings = settings
    app.state.exchange = exchange_for(settings, engine)
    from kefu.core.pubsub import broker_for

    # Fan-out between web workers (live chat): LISTEN/NOTIFY on PostgreSQL, else in-process.
    app.state.broker = broker_for(settings.database_url, settings.pubsub_broker)
    from kefu.security.own_addresses import ExchangeOwnAddresses

    # The chain module's privacy rule reads the customer's own addresses from the exchange.
    app.state.chain_own_addresses = ExchangeOwnAddresses(
        app.state.exchange,
        chain_names=settings.security_chain_names,
        ttl_seconds=settings.security_own_address_cache_seconds,
    )
    install_problem_handlers(app)
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(NulCharacterMiddleware)
    from kefu.identity.documents.routes import UPLOAD_PATH
    from kefu.web.portal.routes import upload_limits as portal_upload_limits

    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # Room for the document plus its multipart envelope; JSON routes keep the small limit.
        larger_limits={
            UPLOAD_PATH: settings.identity_document_max_bytes + 64_000,
            **portal_upload_limits(settings),
        },
    )

    from kefu.audit.routes import router as audit_router
    from kefu.bot.routes import router as bot_router
    from kefu.chain.routes import router as chain_router
    from kefu.exchange.routes import router as exchange_router
    from kefu.identity.mfa.routes import router as mfa_router
    from kefu.identity.routes import router as identity_router
    from kefu.sla.routes import router as sla_router
    from kefu.tickets.routes import router as tickets_router
    from kefu.web.routes import router as web_router

    for router in (identity_router, tickets_router, sla_router, audit_router, web_router):
        app.include_router(router)
    app.include_router(mfa_router)

    from kefu.identity.documents.routes import router as identity_documents_router
    from kefu.web import install as install_web
    from kefu.web.console.routes import router as console_router

    app.include_router(identity_documents_router)
    app.include_router(console_router)
    from kefu.web.console.mfa_pages import router as console_mfa_router

    app.include_router(console_mfa_router)
    install_web(app)
    app.include_router(chain_router)
    app.include_router(exchange_router)

    from kefu.kb.routes import pages as kb_pages
    from kefu.kb.routes import public_router as kb_public_router
    from kefu.kb.routes import router as kb_router

    for router in (kb_public_router, kb_router, kb_pages):
        app.include_router(router)
    app.include_router(bot_router)
    from kefu.security.routes import router as security_router
    from kefu.web.console.security import router as console_security_router

    app.include_router(security_router)
    app.include_router(console_security_router)
    from kefu.disputes.routes import router as disputes_router
    from kefu.web.console.disputes import router as console_disputes_router

    app.include_router(disputes_router)
    app.include_router(console_disputes_router)
    from kefu.web.portal.routes import router as portal_router

    app.include_router(portal_router)
    from kefu.web.console.chain import router as console_chain_router
    from kefu.web.console.tickets import router as console_tickets_router

    app.include_router(console_tickets_router)
    app.include_router(console_chain_router)
    from kefu.chat.pages import router as chat_demo_pages
    from kefu.chat.routes import router as chat_router
    from kefu.web.console.chats import router as console_chats_router

    for router in (chat_router, console_chats_router, chat_demo_pages):
        app.include_router(router)
    return app
