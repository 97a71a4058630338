"""Bringing a database to a usable state: the schema (Alembic) and the promised defaults."""

from __future__ import annotations

from kefu.core.db import make_engine, session_scope
from kefu.migrations import upgrade


def prepare_database(database_url: str) -> None:
    """Migrate to the latest schema, then make sure the default SLA policies exist."""
    from kefu.sla.service import ensure_default_policies

    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            ensure_default_policies(session)
    finally:
        engine.dispose()
