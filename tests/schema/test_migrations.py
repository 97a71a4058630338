"""The schema comes only from Alembic: the migrated database must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from kefu import all_models  # noqa: F401 - registers every table
from kefu.core.db import Base


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_model_table_exists_and_nothing_else(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)


def test_audit_chain_head_is_seeded(engine: Engine) -> None:
    with engine.connect() as connection:
        row = connection.execute(text("SELECT id, last_seq, last_hash FROM audit_head")).one()
    assert (row.id, row.last_seq, row.last_hash) == (1, 0, "0" * 64)
