"""Talking to the chat WebSocket the way the widget does."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from kefu.core.clock import utcnow
from kefu.identity import service as identity
from kefu.identity.models import Customer

ORIGIN = {"origin": "http://testserver"}
_ids = itertools.count(1)


def token_for(customer: Customer, lifetime: timedelta = timedelta(minutes=30)) -> str:
    return identity.sign_customer_token(customer.external_id, utcnow() + lifetime)


def client_id() -> str:
    return f"msg-{next(_ids):06d}-test"


def hello(
    ws: WebSocketTestSession,
    token: str | None,
    last_seq: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token, "last_seq": last_seq, **extra})
    frame: dict[str, Any] = ws.receive_json()
    return frame


def open_socket(client: TestClient, headers: dict[str, str] | None = None) -> Any:
    return client.websocket_connect("/api/v1/chat/ws", headers=headers or ORIGIN)


def until(
    ws: WebSocketTestSession, done: Callable[[list[dict[str, Any]]], bool], limit: int = 40
) -> list[dict[str, Any]]:
    """Frames until `done(frames)` holds (the socket must deliver them: no timeout here)."""
    frames: list[dict[str, Any]] = []
    for _ in range(limit):
        frames.append(ws.receive_json())
        if done(frames):
            return frames
    raise AssertionError(f"condition not met in {limit} frames: {frames}")


def events(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == "event"]


def say(ws: WebSocketTestSession, text: str, cid: str | None = None) -> list[dict[str, Any]]:
    """Send a message; frames up to its ack and the bot's answer to it (or the system line)."""
    cid = cid or client_id()
    ws.send_json({"type": "message", "client_id": cid, "text": text})

    def answered(frames: list[dict[str, Any]]) -> bool:
        acked = [f for f in frames if f["type"] == "ack" and f["client_id"] == cid]
        if not acked:
            return any(f["type"] == "error" for f in frames)
        seq = acked[0]["seq"]
        later = [f for f in events(frames) if f["seq"] > seq]
        mine = [f for f in events(frames) if f["seq"] == seq]
        return bool(mine) and bool(later)

    return until(ws, answered)
