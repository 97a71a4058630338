"""Invariant 6: the log is append-only in the database, and the hash chain exposes an edit, a
deletion in the middle and a truncated tail even by someone who can bypass the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kefu.audit.models import AuditEntry
from kefu.audit.service import Actor, entry_hash, record, verify
from kefu.cli import app as cli_app
from kefu.core.settings import get_settings
from tests.core.helpers import audit_entries, drop_audit_triggers, new_session
from tests.factories import make_agent, make_customer, make_ticket


def _verify(engine: Engine):
    with new_session(engine) as s:
        return verify(s)


@pytest.fixture
def chain(session: Session, engine: Engine) -> list[AuditEntry]:
    """A short history written through the services: customers, an agent, tickets."""
    customer = make_customer(session)
    make_agent(session)
    make_ticket(session, customer)
    make_ticket(session, make_customer(session))
    for n in range(3):
        record(session, Actor.system(), "test.event", data={"n": n, "note": "内部 ✓"})
    session.commit()
    entries = audit_entries(engine)
    assert len(entries) >= 8
    assert _verify(engine).ok
    return entries


def test_the_database_refuses_to_edit_or_delete_entries(
    engine: Engine, chain: list[AuditEntry]
) -> None:
    middle = chain[len(chain) // 2].seq
    statements = [
        update(AuditEntry).where(AuditEntry.seq == middle).values(action="nothing.happened"),
        update(AuditEntry).values(data={}),
        delete(AuditEntry).where(AuditEntry.seq == middle),
        delete(AuditEntry),
    ]
    if engine.dialect.name == "postgresql":
        statements.append(text("TRUNCATE audit_entries"))
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)

    after = audit_entries(engine)
    assert [(e.seq, e.hash, e.action) for e in after] == [(e.seq, e.hash, e.action) for e in chain]
    assert _verify(engine).ok


def test_an_edited_entry_is_named(engine: Engine, chain: list[AuditEntry]) -> None:
    victim = chain[len(chain) // 2]
    drop_audit_triggers(engine)
    with engine.begin() as conn:
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == victim.seq)
            .values(data={**victim.data, "tampered": True})
        )

    result = _verify(engine)
    assert not result.ok
    assert result.first_broken_seq == victim.seq
    assert result.checked == victim.seq - 1


def test_an_edit_that_rewrites_its_own_hash_breaks_the_next_link(
    engine: Engine, chain: list[AuditEntry]
) -> None:
    victim = chain[2]
    forged_hash = entry_hash(
        seq=victim.seq,
        at=victim.at,
        actor_type="system",
        actor_id=None,
        action="nothing.happened",
        subject_type=victim.subject_type,
        subject_id=victim.subject_id,
        data=victim.data,
        prev_hash=victim.prev_hash,
    )
    drop_audit_triggers(engine)
    with engine.begin() as conn:
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == victim.seq)
            .values(actor_type="system", actor_id=None, action="nothing.happened", hash=forged_hash)
        )

    result = _verify(engine)
    assert not result.ok
    assert result.first_broken_seq == victim.seq + 1


def test_a_deleted_middle_entry_is_named(engine: Engine, chain: list[AuditEntry]) -> None:
    victim = chain[len(chain) // 2]
    drop_audit_triggers(engine)
    with engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == victim.seq))

    result = _verify(engine)
    assert not result.ok
    assert result.first_broken_seq == victim.seq


def test_a_truncated_tail_is_caught_by_the_chain_head(
    engine: Engine, chain: list[AuditEntry]
) -> None:
    last = chain[-1]
    drop_audit_triggers(engine)
    with engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == last.seq))

    result = _verify(engine)
    assert not result.ok
    assert result.first_broken_seq == last.seq
    assert result.checked == last.seq - 1


def test_appending_continues_the_chain(
    session: Session, engine: Engine, chain: list[AuditEntry]
) -> None:
    entry = record(session, Actor.system(), "test.after")
    session.commit()
    assert (entry.seq, entry.prev_hash) == (chain[-1].seq + 1, chain[-1].hash)
    assert _verify(engine).checked == len(chain) + 1


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    monkeypatch.setenv("KEFU_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_verify_passes_on_an_intact_log(chain: list[AuditEntry], cli_env: None) -> None:
    result = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"{len(chain)} entries" in result.output
    assert "intact" in result.output


def test_cli_verify_fails_and_names_the_broken_entry(
    engine: Engine, chain: list[AuditEntry], cli_env: None
) -> None:
    victim = chain[3]
    drop_audit_triggers(engine)
    with engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == victim.seq).values(actor_id="x"))

    result = CliRunner().invoke(cli_app, ["audit", "verify"])

    assert result.exit_code == 1, result.output
    assert f"entry {victim.seq}" in result.output
    assert "BROKEN" in result.output
