"""Fan-out between web workers: a tiny publish/subscribe port with two brokers.

A notification says only *that* something happened (a topic such as `chat:<id>` and a few
ids and sequence numbers); whoever receives it reads the rows from the database. A lost
notification therefore loses nothing: the next one, or a client's resume, catches up.

- `InProcessBroker`: one process (SQLite, or a single worker) — subscribers are asyncio
  queues in this process.
- `PostgresBroker`: several workers on one PostgreSQL database — LISTEN/NOTIFY on one
  channel (`kefu_events`) over a psycopg 3 async connection; every worker, the sender
  included, receives each notification and hands it to its local subscribers.

Which one runs follows the database URL (`broker_for`). Notifications from a database
transaction go through `notify(session, ...)`: on PostgreSQL the NOTIFY is part of the
transaction (delivered on commit, dropped on rollback); elsewhere it is handed to the
process's broker after the commit. Ephemeral signals (typing) use `Broker.publish`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger("kefu.pubsub")

CHANNEL = "kefu_events"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; ours carry ids only.
MAX_PAYLOAD = 7900
QUEUE_SIZE = 1000


class Subscription:
    """Notifications for some topics, in arrival order. Iterate it; close it when done."""

    def __init__(self, hub: _Hub, topics: tuple[str, ...]) -> None:
        self._hub = hub
        self.topics = topics
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    def deliver(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:  # a stuck reader drops signals; it resumes from the DB
            log.warning("subscriber queue full; notification dropped")

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._hub.remove(self)


class _Hub:
    """Local subscribers by topic, owned by one event loop."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self.loop: asyncio.AbstractEventLoop | None = None

    def add(self, topics: tuple[str, ...]) -> Subscription:
        subscription = Subscription(self, topics)
        for topic in topics:
            self.subscribers[topic].add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            subscribers = self.subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self.subscribers[topic]

    def dispatch(self, topic: str, data: dict[str, Any]) -> None:
        """Runs on the hub's loop."""
        message = {"topic": topic, **data}
        for subscription in list(self.subscribers.get(topic, ())):
            subscription.deliver(message)

    def dispatch_threadsafe(self, topic: str, data: dict[str, Any]) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.dispatch(topic, data)
        else:
            loop.call_soon_threadsafe(self.dispatch, topic, data)


class Broker(Protocol):
    """Started and stopped with the app (its lifespan)."""

    kind: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """An ephemeral signal to every worker's subscribers of `topic` (not transactional)."""

    def subscribe(self, *topics: str) -> Subscription: ...


# Started in-process brokers by database URL: where `notify` hands post-commit notifications.
_local: dict[str, set[InProcessBroker]] = defaultdict(set)
_local_lock = threading.Lock()


class InProcessBroker:
    kind = "memory"

    def __init__(self, database_url: str = "") -> None:
        self.database_url = _key(database_url)
        self._hub = _Hub()

    async def start(self) -> None:
        self._hub.loop = asyncio.get_running_loop()
        with _local_lock:
            _local[self.database_url].add(self)

    async def stop(self) -> None:
        with _local_lock:
            _local[self.database_url].discard(self)
        self._hub.loop = None

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        self._hub.dispatch(topic, data)

    def publish_threadsafe(self, topic: str, data: dict[str, Any]) -> None:
        self._hub.dispatch_threadsafe(topic, data)

    def subscribe(self, *topics: str) -> Subscription:
        return self._hub.add(topics)


def libpq_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (`postgresql+psycopg://...`) as a libpq connection string."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresBroker:
    """LISTEN on one channel over a dedicated async connection (reconnecting with backoff);
    NOTIFY for ephemeral signals over a second one."""

    kind = "postgresql"

    def __init__(self, database_url: str) -> None:
        self.dsn = libpq_dsn(database_url)
        self._hub = _Hub()
        self._task: asyncio.Task[None] | None = None
        self._sender: Any = None
        self._send_lock = asyncio.Lock()
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._hub.loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._listen(), name="kefu-pubsub-listen")
        # Wait (briefly) for LISTEN, so a notification sent right after start is not missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._sender is not None:
            with contextlib.suppress(Exception):
                await self._sender.close()
            self._sender = None
        self._hub.loop = None

    async def _listen(self) -> None:
        import psycopg

        delay = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    delay = 0.2
                    async for notification in conn.notifies():
                        self._receive(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarted or the network dropped: reconnect
                log.warning("pubsub listener lost its connection; reconnecting", exc_info=True)
                self._listening.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _receive(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            topic = str(message.pop("topic"))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring a malformed notification")
            return
        self._hub.dispatch(topic, message)

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        import psycopg

        payload = encode(topic, data)
        async with self._send_lock:
            for attempt in (1, 2):
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = await psycopg.AsyncConnection.connect(
                            self.dsn, autocommit=True
                        )
                    await self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                    return
                except psycopg.OperationalError:
                    self._sender = None
                    if attempt == 2:
                        raise

    def subscribe(self, *topics: str) -> Subscription:
        return self._hub.add(topics)


def encode(topic: str, data: dict[str, Any]) -> str:
    payload = json.dumps({"topic": topic, **data}, separators=(",", ":"))
    if len(payload.encode()) > MAX_PAYLOAD:
        raise ValueError("a notification carries ids, not content")
    return payload


def _key(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True) if database_url else ""


def broker_for(database_url: str, kind: str = "auto") -> Broker:
    """`auto`: LISTEN/NOTIFY on PostgreSQL, in-process otherwise."""
    if kind == "postgresql" or (kind == "auto" and database_url.startswith("postgresql")):
        return PostgresBroker(database_url)
    return InProcessBroker(database_url)


def notify(session: Session, topic: str, data: dict[str, Any]) -> None:
    """Announce a change made in `session`'s transaction, to every worker, once it commits."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": encode(topic, data)},
        )
        return
    pending: list[tuple[str, str, dict[str, Any]]] = session.info.setdefault("kefu_pubsub", [])
    pending.append((_key(bind.engine.url.render_as_string(hide_password=False)), topic, data))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[tuple[str, str, dict[str, Any]]] = session.info.pop("kefu_pubsub", [])
    if not pending:
        return
    with _local_lock:
        brokers = {url: list(_local.get(url, ())) for url, _, _ in pending}
    for url, topic, data in pending:
        for broker in brokers[url]:
            broker.publish_threadsafe(topic, data)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the outermost transaction: nothing it announced happened
        session.info.pop("kefu_pubsub", None)
