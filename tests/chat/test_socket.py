"""The customer's chat socket end to end: sign-in by the first frame, Origin, the bot's
answers, handoff, agent replies pushed, resume by sequence number, resends stored once,
typing, bad frames, and anonymous visitors' public help."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from starlette.websockets import WebSocketDisconnect

from kefu.bot.models import Conversation
from kefu.chat.models import ChatEvent
from kefu.identity.models import Customer
from kefu.tickets.models import Message, MessageKind, Ticket
from tests.chat.helpers import (
    client_id,
    events,
    hello,
    open_socket,
    say,
    token_for,
    until,
)
from tests.core.helpers import count, new_session
from tests.factories import agent_headers, make_agent, make_customer

CODE = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}$")


@pytest.fixture
def customer(session: Any) -> Customer:
    return make_customer(session, language="en")


def handed_off(client: TestClient, customer: Customer) -> tuple[str, str, int]:
    """A chat the bot handed to the team: (conversation id, ticket id, last seq)."""
    with open_socket(client) as ws:
        welcome = hello(ws, token_for(customer))
        frames = say(ws, "I want to talk to a human")
        frames += until(ws, lambda fs: any(f.get("author") == "system" for f in events(fs)))
        conversation_id = welcome["conversation"]["conversation_id"]
    with new_session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        conversation = s.get(Conversation, conversation_id)
        assert conversation is not None and conversation.ticket_id
        ticket_id = conversation.ticket_id
    return conversation_id, ticket_id, max(f["seq"] for f in events(frames))


def test_signed_in_customer_chats_with_the_bot(client: TestClient, customer: Customer) -> None:
    with open_socket(client) as ws:
        welcome = hello(ws, token_for(customer))
        assert welcome["type"] == "welcome" and welcome["mode"] == "customer"
        conversation = welcome["conversation"]
        assert CODE.match(conversation["verification_code"])
        assert conversation["status"] == "bot" and conversation["agent"] is None
        cid = client_id()
        frames = say(ws, "hello", cid)
    ack = next(f for f in frames if f["type"] == "ack")
    assert ack == {"type": "ack", "client_id": cid, "seq": 1}
    log = events(frames)
    assert log[0]["seq"] == 1 and log[0]["author"] == "customer" and log[0]["client_id"] == cid
    assert log[1]["seq"] == 2 and log[1]["author"] == "bot" and "help" in log[1]["text"]


@pytest.mark.parametrize("lifetime", [timedelta(minutes=-1), timedelta(days=30)])
def test_expired_or_overlong_token_is_refused(
    client: TestClient, customer: Customer, lifetime: timedelta
) -> None:
    with open_socket(client) as ws:
        frame = hello(ws, token_for(customer, lifetime))
        assert frame["type"] == "error" and frame["code"] == "invalid_customer_token"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    assert count(client.app.state.engine, ChatEvent) == 0  # type: ignore[attr-defined]


def test_forged_token_is_refused_in_the_customers_language(
    client: TestClient, customer: Customer
) -> None:
    token = token_for(customer)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with open_socket(client) as ws:
        frame = hello(ws, forged, language="zh-CN")
    assert frame["code"] == "invalid_customer_token"
    assert "令牌" in frame["message"] or "无效" in frame["message"]


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example"}, {}, {"origin": "null"}])
def test_foreign_or_missing_origin_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/api/v1/chat/ws", headers=headers),
    ):
        pass
    assert refused.value.code == 4403


def test_allowed_origin_of_the_exchange_site_is_accepted(
    client: TestClient, customer: Customer
) -> None:
    with open_socket(client, {"origin": "https://www.exchange.example"}) as ws:
        assert hello(ws, token_for(customer))["mode"] == "customer"


def test_anonymous_visitor_gets_public_help_only(client: TestClient, engine: Engine) -> None:
    with open_socket(client) as ws:
        welcome = hello(ws, None)
        assert welcome == {"type": "welcome", "mode": "anonymous", "conversation": None}
        greeting = say(ws, "hello")
        person = say(ws, "I want to talk to a human")
        balance = say(ws, "where is my deposit")
    assert any(f.get("author") == "bot" for f in events(greeting))
    for frames in (person, balance):
        reply = [f for f in events(frames) if f["author"] == "bot"]
        assert reply and "sign in" in reply[-1]["text"].lower()
    # Nothing stored, no account looked at, nobody handed anything.
    assert count(engine, Conversation) == 0
    assert count(engine, ChatEvent) == 0
    assert count(engine, Ticket) == 0


def test_handoff_then_agent_reply_is_pushed_with_the_verified_identity(
    client: TestClient, session: Any, customer: Customer, engine: Engine
) -> None:
    _conversation_id, ticket_id, seq = handed_off(client, customer)
    agent = make_agent(session, display_name="Lin Wei", email="lin.wei@desk.example")
    headers = agent_headers(client, agent)
    with open_socket(client) as ws:
        welcome = hello(ws, token_for(customer), last_seq=seq)
        assert welcome["conversation"]["status"] == "handed_off"
        assert welcome["conversation"]["ticket_reference"].startswith("KF-")
        sent = client.post(
            f"/api/v1/tickets/{ticket_id}/messages",
            json={"body": "Hi, I am looking at your deposit now."},
            headers=headers,
        )
        assert sent.status_code == 201, sent.text
        frames = until(
            ws,
            lambda fs: (
                any(f["type"] == "state" for f in fs)
                and any(f.get("author") == "agent" for f in events(fs))
            ),
        )
        # The customer keeps writing: it lands on the ticket as the customer's.
        cid = client_id()
        ws.send_json({"type": "message", "client_id": cid, "text": "Thanks, it was 0.5 ETH"})
        more = until(ws, lambda fs: any(f.get("client_id") == cid for f in events(fs)))
    agent_event = next(f for f in events(frames) if f["author"] == "agent")
    assert agent_event["text"] == "Hi, I am looking at your deposit now."
    assert agent_event["agent"]["name"] == "Lin Wei"
    assert re.match(r"^@kefu-[a-z2-9]{6}$", agent_event["agent"]["handle"])
    assert "@desk.example" not in str(frames)  # never the email
    state = next(f for f in frames if f["type"] == "state")["conversation"]
    assert state["agent"] == agent_event["agent"]
    assert all(e["seq"] > seq for e in events(frames))
    assert any(f["type"] == "ack" and f["client_id"] == cid for f in more)
    with new_session(engine) as s:
        bodies = [
            (m.kind, m.body)
            for m in s.scalars(select(Message).where(Message.ticket_id == ticket_id))
        ]
    assert (MessageKind.CUSTOMER, "Thanks, it was 0.5 ETH") in bodies
    assert (MessageKind.AGENT, "Hi, I am looking at your deposit now.") in bodies


def test_resume_after_disconnect_loses_nothing_and_doubles_nothing(
    client: TestClient, session: Any, customer: Customer, engine: Engine
) -> None:
    _conversation_id, ticket_id, seq = handed_off(client, customer)
    agent = make_agent(session)
    headers = agent_headers(client, agent)
    # While the customer is away, two replies arrive.
    for body in ("First reply", "Second reply"):
        sent = client.post(
            f"/api/v1/tickets/{ticket_id}/messages", json={"body": body}, headers=headers
        )
        assert sent.status_code == 201
    with open_socket(client) as ws:
        hello(ws, token_for(customer), last_seq=seq)
        frames = until(ws, lambda fs: sum(f.get("author") == "agent" for f in events(fs)) == 2)
        ws.send_json({"type": "ping"})
        tail = until(ws, lambda fs: fs[-1]["type"] == "pong")
    log = events(frames) + events(tail)
    seqs = [f["seq"] for f in log]
    assert seqs == list(range(seq + 1, seq + 1 + len(seqs)))  # gap-free, each once
    assert [f["text"] for f in log if f["author"] == "agent"] == ["First reply", "Second reply"]
    # A fresh connection from 0 gets the whole log, in order.
    with open_socket(client) as ws:
        hello(ws, token_for(customer), last_seq=0)
        everything = until(ws, lambda fs: any(f["seq"] == seqs[-1] for f in events(fs)))
    assert [f["seq"] for f in events(everything)] == list(range(1, seqs[-1] + 1))


def test_resent_message_is_stored_once(
    client: TestClient, customer: Customer, engine: Engine
) -> None:
    cid = client_id()
    with open_socket(client) as ws:
        hello(ws, token_for(customer))
        first = say(ws, "hello", cid)
    seq = next(f for f in first if f["type"] == "ack")["seq"]
    # The ack was lost: the widget reconnects and sends the same message again.
    with open_socket(client) as ws:
        hello(ws, token_for(customer), last_seq=0)
        ws.send_json({"type": "message", "client_id": cid, "text": "hello"})
        frames = until(ws, lambda fs: any(f["type"] == "ack" for f in fs))
    assert next(f for f in frames if f["type"] == "ack")["seq"] == seq
    with new_session(engine) as s:
        stored = list(s.scalars(select(ChatEvent).where(ChatEvent.client_id == cid)))
    total = count(engine, ChatEvent)
    assert len(stored) == 1
    assert total == len(events(first))  # the bot did not answer twice


def test_bad_frames_get_error_codes_and_the_chat_goes_on(client: TestClient, session: Any) -> None:
    customer = make_customer(session, language="zh-CN")
    with open_socket(client) as ws:
        hello(ws, token_for(customer))
        ws.send_text("{not json")
        ws.send_json({"type": "dance"})
        ws.send_json({"type": "message", "text": "no id"})
        ws.send_json({"type": "message", "client_id": "x", "text": "short id"})
        cid = client_id()
        ws.send_json({"type": "message", "client_id": cid, "text": "a" * 5000})
        ws.send_json({"type": "message", "client_id": client_id(), "text": "   "})
        ws.send_text("x" * 20_000)
        ws.send_bytes(b"\xff\xfe")
        frames = [ws.receive_json() for _ in range(8)]
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    codes = [f["code"] for f in frames]
    assert codes == [
        "bad_frame",
        "unknown_frame_type",
        "bad_frame",
        "bad_client_id",
        "message_too_long",
        "empty_message",
        "frame_too_large",
        "bad_frame",
    ]
    assert frames[4]["client_id"] == cid
    assert all(re.search(r"[\u4e00-\u9fff]", f["message"]) for f in frames), frames


def test_a_client_ahead_of_the_log_gets_it_all_again(
    client: TestClient, customer: Customer
) -> None:
    """A client that claims more than the log holds (a restored database) is not left
    waiting for numbers that will never come: it gets the whole log."""
    with open_socket(client) as ws:
        hello(ws, token_for(customer))
        say(ws, "hello")
    with open_socket(client) as ws:
        hello(ws, token_for(customer), last_seq=999)
        frames = until(ws, lambda fs: len(events(fs)) == 2)
    assert [f["seq"] for f in events(frames)] == [1, 2]


def test_the_first_frame_must_be_hello(client: TestClient) -> None:
    with open_socket(client) as ws:
        ws.send_json({"type": "message", "client_id": client_id(), "text": "hi"})
        frame = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert frame["code"] == "hello_required"
    assert closed.value.code == 4400


def test_someone_elses_conversation_is_not_found(
    client: TestClient, session: Any, customer: Customer
) -> None:
    with open_socket(client) as ws:
        theirs = hello(ws, token_for(customer))["conversation"]["conversation_id"]
    intruder = make_customer(session)
    with open_socket(client) as ws:
        frame = hello(ws, token_for(intruder), conversation_id=theirs)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert frame["code"] == "chat_not_found"
    assert closed.value.code == 4404


def test_a_reconnecting_customer_continues_the_same_chat(
    client: TestClient, customer: Customer
) -> None:
    with open_socket(client) as ws:
        first = hello(ws, token_for(customer))["conversation"]
        say(ws, "hello")
    with open_socket(client) as ws:
        again = hello(ws, token_for(customer), last_seq=2)["conversation"]
    assert again["conversation_id"] == first["conversation_id"]
    assert again["verification_code"] == first["verification_code"]
