"""The chat WebSockets: the customer's widget and the agent's live view.

Customer protocol (JSON text frames):

client → server
  {"type": "hello", "token": "<customer token>" | null, "last_seq": 0,
   "language": "en" | "zh-CN", "conversation_id": null}           first frame, within a timeout
  {"type": "message", "client_id": "<8-64 of A-Za-z0-9_->", "text": "..."}
  {"type": "typing", "active": true}
  {"type": "ping"}
server → client
  {"type": "welcome", "mode": "customer" | "anonymous", "conversation": {...} | null}
  {"type": "event", "seq": 7, "author": "customer|bot|agent|system", "text": "...",
   "client_id": "..." | null, "agent": {"name", "handle"} | null, "at": "..."}
  {"type": "ack", "client_id": "...", "seq": 7}
  {"type": "state", "conversation": {...}}                  status, code and agent changed
  {"type": "typing", "who": "agent", "active": true, "agent": {...}}
  {"type": "error", "code": "...", "message": "<in the customer's language>", "client_id"?}
  {"type": "pong"}

The token travels in the first frame, never in the URL (URLs end up in logs). Origins are
checked before the handshake is accepted. Anonymous visitors get public help only: nothing is
stored, no account is looked at and nothing is handed to a person.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from kefu.bot import service as bot
from kefu.bot.services import BotServices, production_services
from kefu.chat import service
from kefu.core import i18n
from kefu.core.errors import KefuError
from kefu.core.i18n import N_
from kefu.core.pubsub import Broker, Subscription
from kefu.core.settings import Settings
from kefu.identity import service as identity
from kefu.identity.models import Customer

log = logging.getLogger("kefu.chat")

T = TypeVar("T")

MAX_FRAME = 16_000

# Close codes (the 4000 range is the application's).
CLOSE_BAD_HELLO = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class FrameError(KefuError):
    status = 400
    code = "bad_frame"
    message = N_("That message could not be read; it was not sent.")


class FrameTooLarge(FrameError):
    code = "frame_too_large"
    message = N_("That message is too large to send.")


class UnknownFrame(FrameError):
    code = "unknown_frame_type"
    message = N_("This kind of message is not understood here.")


class HelloRequired(FrameError):
    code = "hello_required"
    message = N_("The chat must start with a hello.")


class HelloTimeout(FrameError):
    code = "hello_timeout"
    message = N_("The chat did not start in time; connect again.")


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Same origin as kefu itself, or one of `chat_allowed_origins`. A browser always sends
    Origin on a WebSocket handshake; a request without one is refused too."""
    origin = websocket.headers.get("origin")
    if not origin:
        return False
    origin = origin.rstrip("/").lower()
    scheme = "https" if websocket.url.scheme in ("wss", "https") else "http"
    host = websocket.headers.get("host", "").lower()
    if origin == f"{scheme}://{host}":
        return True
    return origin in {o.rstrip("/").lower() for o in settings.chat_allowed_origins}


def parse(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_FRAME:
        raise FrameTooLarge()
    try:
        frame = json.loads(raw)
    except ValueError:
        raise FrameError() from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError()
    return frame


def error_frame(error: KefuError, language: str, client_id: Any = None) -> dict[str, Any]:
    params = {
        k: i18n.translate(v, language) if isinstance(v, str) else v for k, v in error.params.items()
    }
    frame: dict[str, Any] = {
        "type": "error",
        "code": error.code,
        "message": i18n.translate(error.message, language, **params),
    }
    if isinstance(client_id, str):
        frame["client_id"] = client_id
    return frame


def bot_services(app: Any) -> BotServices:
    services: BotServices | None = getattr(app.state, "bot_services", None)
    if services is None:
        services = production_services(app.state.settings, getattr(app.state, "exchange", None))
        app.state.bot_services = services
    return services


class Connection:
    """What both sockets share: a send lock, DB work in the thread pool, and pushing the log
    from a sequence number on (the one path by which events reach a client)."""

    def __init__(self, websocket: WebSocket, language: str) -> None:
        self.ws = websocket
        self.app = websocket.app
        self.settings: Settings = self.app.state.settings
        self.broker: Broker = self.app.state.broker
        self.sessions: sessionmaker[Session] = self.app.state.sessionmaker
        self.language = language
        self.sent_seq = 0
        self.conversation_id: str | None = None
        self._send_lock = asyncio.Lock()
        self._push_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_json(frame)

    async def send_error(self, error: KefuError, client_id: Any = None) -> None:
        await self.send(error_frame(error, self.language, client_id))

    async def db(self, work: Callable[[Session], T]) -> T:
        """`work` in its own transaction, in the thread pool: committed, or rolled back and
        re-raised."""

        def run() -> T:
            with self.sessions() as session:
                try:
                    result = work(session)
                    session.commit()
                    return result
                except BaseException:
                    session.rollback()
                    raise

        return await run_in_threadpool(run)

    async def push(self) -> None:
        """Everything after what this client has: resume and live updates alike."""
        conversation_id = self.conversation_id
        if conversation_id is None:
            return
        async with self._push_lock:
            while True:
                after = self.sent_seq
                frames = await self.db(
                    partial(_frames, conversation_id=conversation_id, after=after)
                )
                for frame in frames:
                    await self.send(frame)
                    self.sent_seq = frame["seq"]
                if len(frames) < service.MAX_BACKLOG:
                    return

    async def receive(self) -> str | None:
        """The next text frame; None when the client is gone."""
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = "\x00"  # reported as a bad frame
        return str(text)

    async def listen(
        self,
        subscription: Subscription,
        on_typing: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        async for message in subscription:
            if message.get("kind") == "typing":
                await on_typing(message)
            else:
                await self.push()
                await self.after_push()

    async def after_push(self) -> None:
        """Hook: the customer socket refreshes the header (status, agent) after new events."""


class CustomerConnection(Connection):
    def __init__(self, websocket: WebSocket, language: str) -> None:
        super().__init__(websocket, language)
        self.token: str | None = None
        self.customer_id: str | None = None
        self.anonymous_seq = 0
        self.state: dict[str, Any] | None = None

    async def run(self) -> None:
        try:
            hello = await asyncio.wait_for(
                self.receive(), timeout=self.settings.chat_hello_timeout_seconds
            )
        except TimeoutError:
            await self.send_error(HelloTimeout())
            await self.ws.close(code=CLOSE_BAD_HELLO)
            return
        if hello is None:
            return
        try:
            frame = parse(hello)
            if frame["type"] != "hello":
                raise HelloRequired()
        except FrameError as error:
            await self.send_error(error)
            await self.ws.close(code=CLOSE_BAD_HELLO)
            return
        language = i18n.normalize_language(_str(frame.get("language")))
        if language:
            self.language = language
        token = frame.get("token")
        if token is None or token == "":
            await self.run_anonymous()
            return
        if not isinstance(token, str):
            await self.send_error(FrameError())
            await self.ws.close(code=CLOSE_BAD_HELLO)
            return
        conversation_id = _str(frame.get("conversation_id"))
        try:
            opened = await self.db(lambda s: self._open(s, token, conversation_id))
        except KefuError as error:
            await self.send_error(error)
            code = CLOSE_NOT_FOUND if error.status == 404 else CLOSE_UNAUTHENTICATED
            await self.ws.close(code=code)
            return
        self.token = token
        self.state = opened
        self.conversation_id = opened["conversation_id"]
        last_seq = frame.get("last_seq")
        # A client claiming more than the log holds (a restored database) gets it all again.
        claimed = last_seq if isinstance(last_seq, int) and last_seq >= 0 else 0
        self.sent_seq = claimed if claimed <= opened["last_seq"] else 0
        await self.send({"type": "welcome", "mode": "customer", "conversation": opened})
        subscription = self.broker.subscribe(service.topic(opened["conversation_id"]))
        listener = asyncio.create_task(self.listen(subscription, self._typing_from_agent))
        try:
            await self.push()
            await self.read_loop()
        finally:
            subscription.close()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    def _open(self, session: Session, token: str, conversation_id: str | None) -> dict[str, Any]:
        customer = identity.verify_customer_token(session, token)
        self.customer_id = customer.id
        self.language = customer.language
        conversation, chat = service.open_chat(
            session, customer, conversation_id=conversation_id, language=customer.language
        )
        self.language = conversation.language
        return service.state(session, conversation, chat).as_dict()

    async def read_loop(self) -> None:
        while True:
            raw = await self.receive()
            if raw is None:
                return
            client_id: Any = None
            try:
                frame = parse(raw)
                client_id = frame.get("client_id")
                kind = frame["type"]
                if kind == "message":
                    await self.on_message(frame)
                elif kind == "typing":
                    await self.broker.publish(
                        service.topic(self.conversation_id or ""),
                        {"kind": "typing", "who": "customer", "active": bool(frame.get("active"))},
                    )
                elif kind == "ping":
                    await self.send({"type": "pong"})
                else:
                    raise UnknownFrame()
            except identity.InvalidCustomerToken as error:
                # The token expired mid-chat: the host page must hand the widget a fresh one.
                await self.send_error(error, client_id)
                await self.ws.close(code=CLOSE_UNAUTHENTICATED)
                return
            except KefuError as error:
                await self.send_error(error, client_id)

    async def on_message(self, frame: dict[str, Any]) -> None:
        client_id, text = frame.get("client_id"), frame.get("text")
        if not isinstance(client_id, str) or not isinstance(text, str):
            raise FrameError()
        token, conversation_id = self.token, self.conversation_id
        assert token is not None and conversation_id is not None
        model = bot.classifier(self.settings)
        services = bot_services(self.app)

        def post(session: Session) -> service.Posted:
            customer = identity.verify_customer_token(session, token)
            return service.post_customer_message(
                session,
                customer,
                conversation_id,
                client_id,
                text,
                model=model,
                services=services,
                per_minute=self.settings.chat_messages_per_minute,
            )

        posted = await self.db(post)
        await self.send({"type": "ack", "client_id": client_id, "seq": posted.seq})
        await self.push()
        await self.after_push()

    async def after_push(self) -> None:
        conversation_id, customer_id = self.conversation_id, self.customer_id
        if conversation_id is None or customer_id is None:
            return

        def read(session: Session) -> dict[str, Any]:
            conversation, chat = service.open_chat(
                session, _customer_ref(session, customer_id), conversation_id=conversation_id
            )
            return service.state(session, conversation, chat).as_dict()

        current = await self.db(read)
        if self.state is None or _header(current) != _header(self.state):
            self.state = current
            await self.send({"type": "state", "conversation": current})

    async def _typing_from_agent(self, message: dict[str, Any]) -> None:
        if message.get("who") == "agent":
            await self.send(
                {
                    "type": "typing",
                    "who": "agent",
                    "active": bool(message.get("active")),
                    "agent": message.get("agent"),
                }
            )

    async def run_anonymous(self) -> None:
        """Public help only: the bot's public answers, nothing stored, no handoff."""
        await self.send({"type": "welcome", "mode": "anonymous", "conversation": None})
        limiter = PerMinute(self.settings.chat_messages_per_minute)
        model = bot.classifier(self.settings)
        services = bot_services(self.app)
        while True:
            raw = await self.receive()
            if raw is None:
                return
            client_id: Any = None
            try:
                frame = parse(raw)
                client_id = frame.get("client_id")
                if frame["type"] == "ping":
                    await self.send({"type": "pong"})
                    continue
                if frame["type"] == "typing":
                    continue  # nobody is listening
                if frame["type"] != "message":
                    raise UnknownFrame()
                text = frame.get("text")
                if not isinstance(client_id, str) or not isinstance(text, str):
                    raise FrameError()
                if not service.CLIENT_ID.match(client_id):
                    raise service.BadClientId()
                limiter.take()
                language = self.language
                answer = await self.db(
                    partial(
                        _visitor_answer,
                        text=text,
                        language=language,
                        model=model,
                        services=services,
                    )
                )
            except KefuError as error:
                await self.send_error(error, client_id)
                continue
            self.anonymous_seq += 1
            await self.send({"type": "ack", "client_id": client_id, "seq": self.anonymous_seq})
            await self.send(_anonymous_event(self.anonymous_seq, "customer", text, client_id))
            for reply in answer.replies:
                self.anonymous_seq += 1
                await self.send(_anonymous_event(self.anonymous_seq, "bot", reply, None))


class PerMinute:
    """A sliding one-minute window for one visitor's connection (nothing of theirs is
    stored, so the limit lives with the socket)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: deque[float] = deque()

    def take(self) -> None:
        now = time.monotonic()
        while self.sent and now - self.sent[0] >= 60:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            raise service.ChatRateLimited()
        self.sent.append(now)


def _frames(session: Session, *, conversation_id: str, after: int) -> list[dict[str, Any]]:
    return service.frames_after(session, conversation_id, after)


def _visitor_answer(
    session: Session, *, text: str, language: str, model: Any, services: BotServices
) -> bot.PublicAnswer:
    return bot.answer_visitor(session, text, language=language, model=model, services=services)


def _anonymous_event(seq: int, author: str, text: str, client_id: str | None) -> dict[str, Any]:
    return {
        "type": "event",
        "seq": seq,
        "author": author,
        "text": text,
        "client_id": client_id,
        "agent": None,
        "at": None,
        "ephemeral": True,
    }


def _customer_ref(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise service.ChatSessionNotFound()
    return customer


def _header(state: dict[str, Any]) -> tuple[Any, ...]:
    return (state["status"], state["ticket_reference"], state["agent"], state["language"])


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class AgentConnection(Connection):
    """The console's live view: pushes the chat's log and the customer's typing, relays the
    agent's typing. Replies go through the console's form (the ticket), not this socket."""

    def __init__(
        self, websocket: WebSocket, language: str, conversation_id: str, agent: dict[str, str]
    ) -> None:
        super().__init__(websocket, language)
        self.conversation_id = conversation_id
        self.agent_identity = agent

    async def run(self, after: int) -> None:
        self.sent_seq = max(after, 0)
        assert self.conversation_id is not None
        subscription = self.broker.subscribe(service.topic(self.conversation_id))
        listener = asyncio.create_task(self.listen(subscription, self._typing_from_customer))
        try:
            await self.push()
            while True:
                raw = await self.receive()
                if raw is None:
                    return
                try:
                    frame = parse(raw)
                    if frame["type"] == "typing":
                        await self.broker.publish(
                            service.topic(self.conversation_id),
                            {
                                "kind": "typing",
                                "who": "agent",
                                "active": bool(frame.get("active")),
                                "agent": self.agent_identity,
                            },
                        )
                    elif frame["type"] == "ping":
                        await self.send({"type": "pong"})
                    else:
                        raise UnknownFrame()
                except KefuError as error:
                    await self.send_error(error)
        finally:
            subscription.close()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _typing_from_customer(self, message: dict[str, Any]) -> None:
        if message.get("who") == "customer":
            await self.send(
                {"type": "typing", "who": "customer", "active": bool(message.get("active"))}
            )
