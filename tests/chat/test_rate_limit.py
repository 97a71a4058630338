"""Flooding the chat: a customer's limit holds across connections; a visitor's per socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from kefu.app import create_app
from kefu.chat.models import ChatEvent
from kefu.core.settings import Settings
from kefu.identity.models import Customer
from tests.chat.helpers import client_id, events, hello, open_socket, say, token_for
from tests.core.helpers import new_session
from tests.factories import make_customer

LIMIT = 3
QUESTIONS = ["hello", "what are the withdrawal fees", "how long does a deposit take"]


@pytest.fixture
def limited(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"chat_messages_per_minute": LIMIT}), engine)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _refused(frames: list[dict[str, Any]], cid: str) -> dict[str, Any]:
    (error,) = [f for f in frames if f["type"] == "error"]
    assert error["client_id"] == cid
    return error


def test_a_customer_is_held_to_the_limit_on_every_connection(
    limited: TestClient, session: Any, engine: Engine
) -> None:
    customer: Customer = make_customer(session, language="zh-CN")
    first = client_id()
    with open_socket(limited) as ws:
        hello(ws, token_for(customer))
        say(ws, QUESTIONS[0], first)
        for text in QUESTIONS[1:]:
            say(ws, text)
        extra = client_id()
        error = _refused(say(ws, "one more", extra), extra)
        # In the customer's own language (their setting at the exchange).
        assert error["code"] == "chat_rate_limited" and "太快" in error["message"]
        # A resend of a message already stored is still acknowledged, not refused.
        ws.send_json({"type": "message", "client_id": first, "text": QUESTIONS[0]})
        assert ws.receive_json() == {"type": "ack", "client_id": first, "seq": 1}
    # A second connection does not reset the count (it is in the database).
    with open_socket(limited) as ws:
        hello(ws, token_for(customer))
        other = client_id()
        assert _refused(say(ws, "再来一条", other), other)["code"] == "chat_rate_limited"
    with new_session(engine) as s:
        stored = s.scalars(select(ChatEvent.body).where(ChatEvent.author == "customer")).all()
    assert sorted(stored) == sorted(QUESTIONS)


def test_a_visitor_is_held_to_the_limit_on_their_socket(limited: TestClient) -> None:
    with open_socket(limited) as ws:
        hello(ws, None)
        for text in QUESTIONS:
            assert any(f["author"] == "bot" for f in events(say(ws, text)))
        extra = client_id()
        error = _refused(say(ws, "one more", extra), extra)
        assert error["code"] == "chat_rate_limited" and "too quickly" in error["message"]
