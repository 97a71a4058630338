"""Real engines for every test: each test gets a fresh, migrated database on SQLite and on a
PostgreSQL server that the test session starts itself.

Set KEFU_TEST_DATABASES=sqlite (or postgresql) to run against one engine only.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.clock import clock
from kefu.core.db import make_engine, session_factory
from kefu.core.settings import Settings
from kefu.migrations import upgrade
from kefu.testing.postgres import PostgresCluster, start_cluster
from kefu.wiring import wire
from tests.core.helpers import use_fast_password_hashing

BACKENDS = [b for b in os.environ.get("KEFU_TEST_DATABASES", "sqlite,postgresql").split(",") if b]
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_template(request: pytest.FixtureRequest) -> tuple[PostgresCluster, str]:
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = "kefu_template"
    upgrade(cluster.create_database(name))
    return cluster, name


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database, copied from a migrated template, for this test alone."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "kefu.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    cluster, template_name = request.getfixturevalue("_pg_template")
    import psycopg

    name = f"kefu_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(cluster.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}" STRATEGY FILE_COPY')
    request.addfinalizer(lambda: _drop(cluster, name))
    return cluster.url(name)


def _drop(cluster: PostgresCluster, name: str) -> None:
    import psycopg

    with psycopg.connect(cluster.admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    wire()
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session for arranging and inspecting data; commit explicitly to make it visible."""
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, embedded_worker=False, max_body_bytes=64_000)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with the cost turned down so tests can sign in many agents quickly; tests
    marked `production_password_hashing` keep the real parameters (and check them)."""
    if request.node.get_closest_marker("production_password_hashing") is None:
        use_fast_password_hashing(monkeypatch)


@pytest.fixture(autouse=True)
def _thaw_clock() -> Iterator[None]:
    yield
    clock.unfreeze()
