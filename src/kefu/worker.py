"""Background jobs: the SLA breach scan. Runs in `kefu worker`, or inside `kefu serve` for
the embedded default. On PostgreSQL an advisory lock lets only one worker scan at a time."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

from kefu.core.db import session_scope
from kefu.core.settings import Settings

log = logging.getLogger("kefu.worker")

SLA_SCAN_LOCK = 0x6B656675  # "kefu"


def run_sla_scan(engine: Engine) -> int:
    """One pass of the breach scan; returns how many breaches it recorded."""
    from kefu.sla.service import scan_breaches

    with session_scope(engine) as session:
        if engine.dialect.name == "postgresql":
            got = session.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SLA_SCAN_LOCK}
            ).scalar()
            if not got:
                return 0
        return len(scan_breaches(session))


def run_forever(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            found = run_sla_scan(engine)
            if found:
                log.info("SLA scan recorded %d breach(es)", found)
        except Exception:
            log.exception("SLA scan failed; retrying on the next tick")
        stop.wait(settings.sla_scan_seconds)
