"""The fan-out port: the in-process broker, and PostgreSQL LISTEN/NOTIFY delivering between
two brokers — and between two app instances on one database, as two web workers would."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kefu.app import create_app
from kefu.core.db import make_engine, session_factory
from kefu.core.pubsub import InProcessBroker, PostgresBroker, broker_for, notify
from kefu.core.settings import Settings
from kefu.testing.postgres import PostgresCluster
from tests.chat.helpers import ORIGIN, events, hello, open_socket, say, token_for, until
from tests.factories import agent_headers, make_agent, make_customer
from tests.web.console_helpers import sign_in

_names = itertools.count()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated PostgreSQL database, whatever KEFU_TEST_DATABASES says: the broker
    under test exists only there."""
    cluster: PostgresCluster
    cluster, template = request.getfixturevalue("_pg_template")
    import psycopg

    name = f"kefu_pubsub_{os.getpid()}_{next(_names)}"
    with psycopg.connect(cluster.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    yield cluster.url(name)
    with psycopg.connect(cluster.admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_broker_follows_the_database_url() -> None:
    assert isinstance(broker_for("sqlite:///x.db"), InProcessBroker)
    assert isinstance(broker_for("postgresql+psycopg://u:p@h/db"), PostgresBroker)
    assert isinstance(broker_for("postgresql+psycopg://u:p@h/db", "memory"), InProcessBroker)


def test_in_process_broker_delivers_after_commit_only(tmp_path: Path) -> None:
    from kefu.migrations import upgrade

    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade(url)
    engine = make_engine(url)

    async def scenario() -> list[dict[str, Any]]:
        broker = InProcessBroker(url)
        await broker.start()
        subscription = broker.subscribe("chat:a")
        await broker.publish("chat:a", {"kind": "typing", "active": True})
        await broker.publish("chat:other", {"kind": "typing"})

        def transactions() -> None:
            with session_factory(engine)() as s:
                s.execute(text("SELECT 1"))
                notify(s, "chat:a", {"kind": "events", "seq": 1})
                s.rollback()  # never happened: nobody hears of it
                s.execute(text("SELECT 1"))
                notify(s, "chat:a", {"kind": "events", "seq": 2})
                s.commit()

        await asyncio.to_thread(transactions)
        received = [await asyncio.wait_for(subscription.get(), 5) for _ in range(2)]
        subscription.close()
        await broker.stop()
        return received

    try:
        received = asyncio.run(scenario())
    finally:
        engine.dispose()
    assert received == [
        {"topic": "chat:a", "kind": "typing", "active": True},
        {"topic": "chat:a", "kind": "events", "seq": 2},
    ]


def test_postgres_brokers_deliver_to_each_other(pg_url: str) -> None:
    engine = make_engine(pg_url)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        one, two = PostgresBroker(pg_url), PostgresBroker(pg_url)
        await one.start()
        await two.start()
        on_one, on_two = one.subscribe("chat:x"), two.subscribe("chat:x")
        await one.publish("chat:x", {"kind": "typing", "who": "agent", "active": True})

        def transaction() -> None:
            with session_factory(engine)() as s:
                s.execute(text("SELECT 1"))
                notify(s, "chat:x", {"kind": "events", "seq": 7})
                s.rollback()
                notify(s, "chat:x", {"kind": "events", "seq": 8})
                s.commit()

        await asyncio.to_thread(transaction)
        got_one = [await asyncio.wait_for(on_one.get(), 10) for _ in range(2)]
        got_two = [await asyncio.wait_for(on_two.get(), 10) for _ in range(2)]
        await one.stop()
        await two.stop()
        return got_one, got_two

    try:
        got_one, got_two = asyncio.run(scenario())
    finally:
        engine.dispose()
    expected = [
        {"topic": "chat:x", "kind": "typing", "who": "agent", "active": True},
        {"topic": "chat:x", "kind": "events", "seq": 8},
    ]
    assert got_one == expected and got_two == expected


def test_two_app_workers_on_one_postgresql_database(
    pg_url: str, bot_data_dir: Path, tmp_path: Path
) -> None:
    """The customer's socket on worker A, the agent on worker B: the agent's reply and typing
    reach the customer only through LISTEN/NOTIFY."""
    settings = Settings(
        database_url=pg_url,
        embedded_worker=False,
        bot_data_dir=str(bot_data_dir),
        max_body_bytes=64_000,
    )
    engine_a, engine_b = make_engine(pg_url), make_engine(pg_url)
    try:
        with session_factory(engine_a)() as s:
            customer = make_customer(s, language="zh-CN")
            agent = make_agent(s, display_name="Li Na")
        with (
            TestClient(create_app(settings, engine_a)) as worker_a,
            TestClient(create_app(settings, engine_b)) as worker_b,
        ):
            assert worker_a.app.state.broker.kind == "postgresql"  # type: ignore[attr-defined]
            with open_socket(worker_a) as ws:
                welcome = hello(ws, token_for(customer))
                frames = say(ws, "转人工")
                frames += until(ws, lambda fs: any(f.get("author") == "system" for f in events(fs)))
                conversation_id = welcome["conversation"]["conversation_id"]
                sign_in(worker_b, agent)
                with worker_b.websocket_connect(
                    f"/console/chats/{conversation_id}/ws?after=100", headers=ORIGIN
                ) as agent_ws:
                    agent_ws.send_json({"type": "ping"})
                    assert agent_ws.receive_json() == {"type": "pong"}
                    agent_ws.send_json({"type": "typing", "active": True})
                    typing = until(ws, lambda fs: fs[-1]["type"] == "typing")[-1]
                    assert typing["who"] == "agent" and typing["agent"]["name"] == "Li Na"
                    ticket = worker_b.get(
                        "/api/v1/tickets?limit=5", headers=agent_headers(worker_b, agent)
                    ).json()["items"][0]
                    sent = worker_b.post(
                        f"/api/v1/tickets/{ticket['id']}/messages",
                        json={"body": "您好，我是李娜。"},
                        headers=agent_headers(worker_b, agent),
                    )
                    assert sent.status_code == 201, sent.text
                    pushed = until(
                        ws, lambda fs: any(f.get("author") == "agent" for f in events(fs))
                    )
        reply = next(f for f in events(pushed) if f["author"] == "agent")
        assert reply["text"] == "您好，我是李娜。" and reply["agent"]["name"] == "Li Na"
        joined = [f for f in events(pushed) if f["author"] == "system"]
        assert joined and "李娜" not in joined[0]["text"] and "Li Na" in joined[0]["text"]
    finally:
        engine_a.dispose()
        engine_b.dispose()
