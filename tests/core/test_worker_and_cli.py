"""The job worker and the command line, run the way an operator runs them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kefu.cli import app as cli_app
from kefu.core.clock import clock
from kefu.core.db import make_engine
from kefu.core.settings import Settings, get_settings
from kefu.migrations import upgrade
from kefu.sla.models import SlaBreach, SlaPolicy
from kefu.sla.service import ensure_default_policies
from kefu.testing.postgres import PostgresCluster
from kefu.worker import SLA_SCAN_LOCK, run_forever, run_sla_scan
from tests.factories import make_customer, make_ticket

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _overdue_ticket(session: Session) -> None:
    ensure_default_policies(session)
    session.commit()
    clock.freeze(START)
    make_ticket(session, make_customer(session))
    clock.freeze(START + timedelta(hours=25))  # past the default 24 h first response


def _breaches(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count(SlaBreach.id))) or 0


def test_a_scan_records_each_breach_once(session: Session, engine: Engine) -> None:
    _overdue_ticket(session)
    assert run_sla_scan(engine) == 1
    assert run_sla_scan(engine) == 0
    assert _breaches(engine) == 1


def test_only_one_postgresql_worker_scans_at_a_time(pg_cluster: PostgresCluster) -> None:
    """PostgreSQL's advisory lock; on SQLite there is only ever one writer anyway."""
    url = pg_cluster.create_database("kefu_worker_lock")
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        _overdue_ticket(session)
    with engine.connect() as other_worker:
        other_worker.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SLA_SCAN_LOCK})
        assert run_sla_scan(engine) == 0  # the other worker is scanning: skip, don't wait
        other_worker.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SLA_SCAN_LOCK})
    assert _breaches(engine) == 0
    assert run_sla_scan(engine) == 1
    engine.dispose()


def test_the_worker_loop_scans_until_told_to_stop(session: Session, engine: Engine) -> None:
    _overdue_ticket(session)
    stop = threading.Event()
    loop = threading.Thread(
        target=run_forever, args=(engine, Settings(sla_scan_seconds=1), stop), daemon=True
    )
    loop.start()
    try:
        for _ in range(100):
            if _breaches(engine):
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()
    assert _breaches(engine) == 1


def test_migrate_creates_the_schema_and_default_policies_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        for _ in range(2):
            result = CliRunner().invoke(cli_app, ["migrate"])
            assert result.exit_code == 0, result.output
            assert "latest schema" in result.output
    finally:
        get_settings.cache_clear()
    engine = make_engine(url)
    with Session(engine) as s:
        names = s.scalars(select(SlaPolicy.name).order_by(SlaPolicy.position)).all()
    engine.dispose()
    assert names == ["Security", "Default"]
