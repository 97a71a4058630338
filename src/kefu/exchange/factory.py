"""The one place that turns settings into an `Exchange`: services and routes ask for
`exchange_for(settings, engine)` and never name an adapter."""

from __future__ import annotations

from sqlalchemy import Engine

from kefu.core.settings import Settings
from kefu.exchange.port import Exchange


def exchange_for(settings: Settings, engine: Engine) -> Exchange:
    """`KEFU_EXCHANGE_ADAPTER=demo` uses the simulated exchange in kefu's own database;
    `http` talks to `KEFU_EXCHANGE_BASE_URL` with requests signed by
    `KEFU_EXCHANGE_KEY_ID` / `KEFU_EXCHANGE_SECRET`."""
    if settings.exchange_adapter == "http":
        from kefu.exchange.adapters.http import HttpExchange

        return HttpExchange(
            settings.exchange_base_url,
            key_id=settings.exchange_key_id,
            secret=settings.exchange_secret,
            timeout=settings.exchange_timeout_seconds,
            retries=settings.exchange_retries,
        )
    from kefu.exchange.adapters.demo import DemoExchange

    return DemoExchange(engine)
