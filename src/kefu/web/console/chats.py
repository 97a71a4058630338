"""Console pages for live chats: the chats handed to people (`/console/chats`) and one chat's
live view (`/console/chats/{id}`): transcript, reply form (CSRF; it writes to the ticket, so
ticket and chat agree), and a WebSocket that pushes new messages and typing. The socket takes
the console's cookie session and checks Origin, as a cookie alone would let another site in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, WebSocket
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from kefu.chat import service as chat
from kefu.chat.socket import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    AgentConnection,
    origin_allowed,
)
from kefu.core.errors import KefuError, NotAuthenticated
from kefu.core.web import DbSession
from kefu.identity import service as identity
from kefu.web.console.auth import SignedIn, pending_step
from kefu.web.rendering import render
from kefu.web.security import SESSION_COOKIE, verify_csrf

router = APIRouter(prefix="/console/chats", include_in_schema=False)

Csrf = Depends(verify_csrf)


@router.get("")
def chat_list(request: Request, db: DbSession, user: SignedIn) -> Response:
    return render(request, "console/chats.html", {"chats": chat.chats_for_agent(db, user.agent)})


def _chat_page(
    request: Request,
    db: Session,
    user: SignedIn,
    conversation_id: str,
    *,
    error: KefuError | None = None,
    text: str = "",
) -> Response:
    found = chat.view_transcript(db, user.agent, conversation_id)
    frames = chat.frames_after(db, conversation_id, 0)
    identity_row = chat.support_identity(db, user.agent)
    return render(
        request,
        "console/chat.html",
        {
            "found": found,
            "frames": frames,
            "last_seq": frames[-1]["seq"] if frames else 0,
            "handle": identity_row.handle,
            "error": error,
            "text": text,
        },
        status_code=error.status if error else 200,
    )


@router.get("/{conversation_id}")
def chat_page(request: Request, conversation_id: str, db: DbSession, user: SignedIn) -> Response:
    return _chat_page(request, db, user, conversation_id)


@router.post("/{conversation_id}/reply", dependencies=[Csrf])
def reply(
    request: Request,
    conversation_id: str,
    db: DbSession,
    user: SignedIn,
    text: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    try:
        chat.agent_reply(db, user.agent, conversation_id, text)
    except chat.ChatSessionNotFound:
        raise
    except KefuError as error:
        db.rollback()
        return _chat_page(request, db, user, conversation_id, error=error, text=text)
    if request.headers.get("x-requested-with") == "fetch":
        return Response(status_code=204)
    return RedirectResponse(f"/console/chats/{conversation_id}", status_code=303)


@router.websocket("/{conversation_id}/ws")
async def agent_socket(websocket: WebSocket, conversation_id: str, after: int = 0) -> None:
    app = websocket.app
    if not origin_allowed(websocket, app.state.settings):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    token = websocket.cookies.get(SESSION_COOKIE)
    if not token:
        await websocket.close(code=CLOSE_UNAUTHENTICATED)
        return
    with app.state.sessionmaker() as db:
        try:
            agent, agent_session = identity.authenticate_agent(db, token)
            if pending_step(db, agent, agent_session, app.state.settings) is not None:
                raise NotAuthenticated()
        except NotAuthenticated:
            await websocket.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            chat.chat_for_agent(db, agent, conversation_id)
        except chat.ChatSessionNotFound:
            await websocket.close(code=CLOSE_NOT_FOUND)
            return
        handle = chat.support_identity(db, agent).handle
        name, language = agent.display_name, agent.language
        db.commit()
    await websocket.accept()
    connection = AgentConnection(
        websocket, language, conversation_id, {"name": name, "handle": handle}
    )
    await connection.run(after)
