"""The agents' live view (list, transcript, reply form, the agent socket with its cookie and
Origin checks, typing both ways) and the anti-impersonation checks the exchange's app makes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.websockets import WebSocketDisconnect

from kefu.bot.models import Conversation
from kefu.identity.models import Customer, Role
from kefu.tickets.models import Team, Ticket
from tests.chat.helpers import ORIGIN, events, hello, open_socket, say, token_for, until
from tests.core.helpers import assert_problem, audit_actions, audit_entries, new_session
from tests.factories import customer_headers, make_agent, make_customer
from tests.web.console_helpers import csrf_from, sign_in


@pytest.fixture
def customer(session: Any) -> Customer:
    return make_customer(session, language="en", display_name="Alice Tan")


def hand_off(client: TestClient, customer: Customer) -> dict[str, Any]:
    with open_socket(client) as ws:
        welcome = hello(ws, token_for(customer))
        frames = say(ws, "I want to talk to a human")
        frames += until(ws, lambda fs: any(f.get("author") == "system" for f in events(fs)))
    conversation: dict[str, Any] = welcome["conversation"]
    conversation["last_seq"] = max(f["seq"] for f in events(frames))
    return conversation


def ticket_of(engine: Engine, conversation_id: str) -> str:
    with new_session(engine) as s:
        conversation = s.get(Conversation, conversation_id)
        assert conversation is not None and conversation.ticket_id
        return conversation.ticket_id


def test_agent_sees_waiting_chat_and_replies_through_the_form(
    client: TestClient, session: Any, customer: Customer, engine: Engine
) -> None:
    chat = hand_off(client, customer)
    agent = make_agent(session, display_name="Zhou Min")
    sign_in(client, agent)
    listing = client.get("/console/chats")
    assert listing.status_code == 200
    assert f'href="/console/chats/{chat["conversation_id"]}"' in listing.text
    assert "Alice Tan" in listing.text
    page = client.get(f"/console/chats/{chat['conversation_id']}")
    assert page.status_code == 200
    assert chat["verification_code"] in page.text
    assert 'aria-live="polite"' in page.text and '<label for="chat-text">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "chat.transcript_viewed" in audit_actions(engine, chat["conversation_id"])
    with open_socket(client) as ws:
        hello(ws, token_for(customer), last_seq=chat["last_seq"])
        sent = client.post(
            f"/console/chats/{chat['conversation_id']}/reply",
            data={"text": "Hello Alice, Zhou here.", "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        frames = until(ws, lambda fs: any(f.get("author") == "agent" for f in events(fs)))
    reply = next(f for f in events(frames) if f["author"] == "agent")
    assert reply["text"] == "Hello Alice, Zhou here." and reply["agent"]["name"] == "Zhou Min"
    # The same words are on the ticket, as the agent's reply.
    with new_session(engine) as s:
        ticket = s.get(Ticket, ticket_of(engine, chat["conversation_id"]))
        assert ticket is not None and ticket.first_responded_at is not None
        # Answering an unowned chat takes it: the bot no longer says "waiting for a colleague".
        assert ticket.assignee_id == agent.id


def test_reply_without_csrf_token_is_refused(
    client: TestClient, session: Any, customer: Customer
) -> None:
    chat = hand_off(client, customer)
    sign_in(client, make_agent(session))
    refused = client.post(f"/console/chats/{chat['conversation_id']}/reply", data={"text": "hi"})
    assert refused.status_code == 403


def test_agent_outside_the_tickets_queue_cannot_open_the_chat(
    client: TestClient, session: Any, customer: Customer, engine: Engine
) -> None:
    chat = hand_off(client, customer)
    with new_session(engine) as s:  # the ticket moves to the risk team
        ticket = s.get(Ticket, ticket_of(engine, chat["conversation_id"]))
        assert ticket is not None
        ticket.team = Team.RISK
        s.commit()
    outsider = make_agent(session, role=Role.AGENT, teams=["support"])
    sign_in(client, outsider)
    assert chat["conversation_id"] not in client.get("/console/chats").text
    assert client.get(f"/console/chats/{chat['conversation_id']}").status_code == 404
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(f"/console/chats/{chat['conversation_id']}/ws", headers=ORIGIN),
    ):
        pass
    assert refused.value.code == 4404


def test_agent_socket_needs_the_console_session_and_the_sites_origin(
    client: TestClient, session: Any, customer: Customer
) -> None:
    chat = hand_off(client, customer)
    path = f"/console/chats/{chat['conversation_id']}/ws"
    with (
        pytest.raises(WebSocketDisconnect) as signed_out,
        client.websocket_connect(path, headers=ORIGIN),
    ):
        pass
    assert signed_out.value.code == 4401
    sign_in(client, make_agent(session))
    with (
        pytest.raises(WebSocketDisconnect) as foreign,
        client.websocket_connect(path, headers={"origin": "https://www.exchange.example.evil"}),
    ):
        pass
    assert foreign.value.code == 4403


def test_typing_is_relayed_both_ways_and_pushes_reach_the_agent(
    client: TestClient, session: Any, customer: Customer
) -> None:
    chat = hand_off(client, customer)
    agent = make_agent(session, display_name="Chen Jie")
    csrf = sign_in(client, agent)
    with (
        open_socket(client) as customer_ws,
        client.websocket_connect(
            f"/console/chats/{chat['conversation_id']}/ws?after={chat['last_seq']}",
            headers=ORIGIN,
        ) as agent_ws,
    ):
        hello(customer_ws, token_for(customer), last_seq=chat["last_seq"])
        agent_ws.send_json({"type": "ping"})
        assert agent_ws.receive_json() == {"type": "pong"}  # subscribed by now
        customer_ws.send_json({"type": "typing", "active": True})
        assert agent_ws.receive_json() == {"type": "typing", "who": "customer", "active": True}
        agent_ws.send_json({"type": "typing", "active": True})
        typing = customer_ws.receive_json()
        assert typing["type"] == "typing" and typing["who"] == "agent" and typing["active"]
        assert typing["agent"]["name"] == "Chen Jie"
        # A message from the customer reaches the agent's view.
        customer_ws.send_json(
            {"type": "message", "client_id": "c-typing-0001", "text": "Still there?"}
        )
        seen = until(agent_ws, lambda fs: any(f.get("text") == "Still there?" for f in fs))
        assert events(seen)[-1]["author"] in ("customer", "bot")
        assert csrf


def test_customer_lists_conversations_and_checks_codes(
    client: TestClient, session: Any, customer: Customer, engine: Engine
) -> None:
    chat = hand_off(client, customer)
    agent = make_agent(session, display_name="Wang Fang", email="wang.fang@desk.example")
    csrf = sign_in(client, agent, f"/console/chats/{chat['conversation_id']}")
    page = client.get(f"/console/chats/{chat['conversation_id']}")
    client.post(
        f"/console/chats/{chat['conversation_id']}/reply",
        data={"text": "Hi", "csrf_token": csrf_from(page.text)},
    )
    assert csrf
    headers = customer_headers(customer)
    listed = client.get("/api/v1/chat/conversations", headers=headers)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["verification_code"] == chat["verification_code"]
    assert item["agent"]["name"] == "Wang Fang"
    assert re.match(r"^@kefu-[a-z2-9]{6}$", item["agent"]["handle"])
    assert "wang.fang" not in listed.text
    assert item["ticket_reference"].startswith("KF-")
    typed = chat["verification_code"].lower().replace("-", " ")
    genuine = client.post("/api/v1/chat/verify", json={"code": typed}, headers=headers)
    assert genuine.status_code == 200 and genuine.json()["genuine"] is True
    assert genuine.json()["conversation"]["agent"]["handle"] == item["agent"]["handle"]
    fake = client.post("/api/v1/chat/verify", json={"code": "ABCD-2345"}, headers=headers)
    assert fake.json() == {"genuine": False, "conversation": None}
    # Another customer's real code is not genuine for this one.
    other = make_customer(session)
    theirs = client.post(
        "/api/v1/chat/verify",
        json={"code": chat["verification_code"]},
        headers=customer_headers(other),
    )
    assert theirs.json()["genuine"] is False
    assert_problem(
        client.post("/api/v1/chat/verify", json={"code": "hello!"}, headers=headers),
        400,
        "bad_verification_code",
    )
    assert_problem(
        client.post("/api/v1/chat/verify", json={"code": "ABCD-2345"}), 401, "not_authenticated"
    )
    checks = audit_entries(engine, action="chat.code_checked")
    assert [e.data["genuine"] for e in checks] == [True, False, False]
    assert chat["verification_code"] not in str([e.data for e in checks])
    assert audit_entries(engine, action="chat.conversations_listed")


def test_agents_cannot_use_the_customer_check(client: TestClient, session: Any) -> None:
    from tests.factories import agent_headers

    headers = agent_headers(client, make_agent(session))
    assert_problem(
        client.get("/api/v1/chat/conversations", headers=headers), 403, "permission_denied"
    )
