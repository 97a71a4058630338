"""The portal's pages for a signed-in customer: my tickets (own only, public conversation
only, reply, new ticket with field errors), the knowledge base (zh and en), ID-document
upload and the "is this really kefu support?" check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.audit.service import Actor
from kefu.bot.models import Conversation
from kefu.chat import service as chat
from kefu.core.settings import Settings, get_settings
from kefu.identity import service as identity
from kefu.identity.documents import service as documents
from kefu.identity.documents.models import IdentityDocument
from kefu.identity.models import Role
from kefu.kb.loader import load_content
from kefu.tickets import service as tickets
from kefu.tickets.models import Channel, MessageKind, Status, Ticket
from tests.core.helpers import audit_entries, new_session
from tests.factories import make_agent, make_customer, make_ticket
from tests.identity.documents_helpers import JPEG, PDF, PNG
from tests.web.console_helpers import csrf_from
from tests.web.portal.helpers import portal_csrf, portal_sign_in

# --- my tickets ----------------------------------------------------------------------------


def test_the_list_shows_only_the_customers_own_tickets(
    client: TestClient, session: Session
) -> None:
    me, other = make_customer(session), make_customer(session)
    mine = make_ticket(session, me, subject="My deposit is late")
    theirs = make_ticket(session, other, subject="Someone else's problem")
    portal_sign_in(client, me)
    page = client.get("/portal/tickets")
    assert mine.reference in page.text and "My deposit is late" in page.text
    assert "Received" in page.text  # the status, in the customer's words
    assert theirs.reference not in page.text

    # Another customer's ticket is a 404, the same as one that does not exist.
    for ticket_id in (theirs.id, "01JUNKJUNKJUNKJUNKJUNKJUNK"):
        response = client.get(f"/portal/tickets/{ticket_id}")
        assert response.status_code == 404
        assert "Someone else" not in response.text
    csrf = portal_csrf(client)
    reply = client.post(
        f"/portal/tickets/{theirs.id}/reply", data={"message": "hello", "csrf_token": csrf}
    )
    assert reply.status_code == 404
    with new_session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        assert len(tickets.list_messages(s, s.get(Ticket, theirs.id), include_internal=True)) == 1


def test_internal_notes_never_reach_the_customer(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    agent = make_agent(session, display_name="Wang Fang")
    ticket = make_ticket(session, customer, body="Where is my BTC?")
    tickets.add_message(
        session,
        ticket,
        kind=MessageKind.INTERNAL_NOTE,
        actor=Actor.agent(agent.id),
        body="SECRET NOTE: customer flagged by risk",
    )
    tickets.add_message(
        session,
        ticket,
        kind=MessageKind.AGENT,
        actor=Actor.agent(agent.id),
        body="It is on its way.",
    )
    session.commit()
    portal_sign_in(client, customer)
    page = client.get(f"/portal/tickets/{ticket.id}")
    assert page.status_code == 200
    assert "Where is my BTC?" in page.text and "It is on its way." in page.text
    assert "Support agent Wang Fang" in page.text
    assert "SECRET NOTE" not in page.text and "flagged" not in page.text


def test_the_customer_replies_and_a_closed_ticket_takes_no_more(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session)
    ticket = make_ticket(session, customer)
    portal_sign_in(client, customer)
    page = client.get(f"/portal/tickets/{ticket.id}")
    csrf = csrf_from(page.text)

    empty = client.post(
        f"/portal/tickets/{ticket.id}/reply", data={"message": "   ", "csrf_token": csrf}
    )
    assert empty.status_code == 422
    assert 'aria-invalid="true"' in empty.text and "Enter your message." in empty.text

    sent = client.post(
        f"/portal/tickets/{ticket.id}/reply",
        data={"message": "Here is the <b>tx hash</b>: abc123", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/portal/tickets/{ticket.id}#latest"
    shown = client.get(f"/portal/tickets/{ticket.id}")
    # Escaped, never markup.
    assert "Here is the &lt;b&gt;tx hash&lt;/b&gt;: abc123" in shown.text

    with new_session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        stored = s.get(Ticket, ticket.id)
        assert stored is not None
        tickets.change_status(s, stored, Status.SOLVED, Actor.system())
        tickets.change_status(s, stored, Status.CLOSED, Actor.system())
        s.commit()
    closed = client.get(f"/portal/tickets/{ticket.id}")
    assert "This ticket is closed." in closed.text
    assert f'action="/portal/tickets/{ticket.id}/reply"' not in closed.text
    refused = client.post(
        f"/portal/tickets/{ticket.id}/reply", data={"message": "more", "csrf_token": csrf}
    )
    assert refused.status_code == 422


def test_a_new_ticket_form_names_each_wrong_field(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session)
    portal_sign_in(client, customer, lang="zh-CN")
    form = client.get("/portal/tickets/new")
    csrf = csrf_from(form.text)
    assert '<label for="subject">' in form.text and 'lang="zh-CN"' in form.text

    bad = client.post(
        "/portal/tickets/new",
        data={"category": "bogus", "subject": "", "message": " ", "csrf_token": csrf},
    )
    assert bad.status_code == 422
    assert bad.text.count('aria-invalid="true"') == 3
    for field in ("category", "subject", "message"):
        assert f'href="#{field}"' in bad.text and f'id="{field}-error"' in bad.text

    too_long = client.post(
        "/portal/tickets/new",
        data={"category": "deposit", "subject": "x" * 201, "message": "m", "csrf_token": csrf},
    )
    assert too_long.status_code == 422
    assert too_long.text.count('aria-invalid="true"') == 1
    assert 'value="' + "x" * 201 + '"' in too_long.text  # what was typed is kept

    created = client.post(
        "/portal/tickets/new",
        data={
            "category": "deposit",
            "subject": "USDT 充值未到账",
            "message": "已经两个小时了",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    ticket_id = created.headers["location"].split("/")[-1].split("?")[0]
    page = client.get(created.headers["location"])
    assert "USDT 充值未到账" in page.text and "已经两个小时了" in page.text
    with new_session(engine) as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.customer_id == customer.id
        assert ticket.channel == Channel.WEB and ticket.language == "zh-CN"
    assert ticket_id in client.get("/portal/tickets").text


# --- knowledge base ------------------------------------------------------------------------


@pytest.fixture
def loaded(session: Session) -> Session:
    load_content(session)
    session.commit()
    return session


def test_help_search_in_english_and_chinese_opens_articles_in_the_portal(
    client: TestClient, loaded: Session
) -> None:
    portal_sign_in(client, make_customer(loaded))
    everything = client.get("/portal/help", params={"lang": "en"})
    assert everything.status_code == 200
    assert '/portal/help/en/deposit-not-credited"' in everything.text

    en = client.get("/portal/help", params={"q": "my account was hacked", "lang": "en"})
    assert en.status_code == 200
    first = re.search(r'<ol class="results">\s*<li>\s*<a href="([^"]+)"', en.text)
    assert first and first.group(1) == "/portal/help/en/account-compromised"

    # A Chinese question is answered from the Chinese articles.
    zh = client.get("/portal/help", params={"q": "充值没到账"})
    first = re.search(r'<ol class="results">\s*<li>\s*<a href="([^"]+)"', zh.text)
    assert first and first.group(1) == "/portal/help/zh-CN/deposit-not-credited"

    article = client.get(first.group(1))
    assert article.status_code == 200
    assert '<article class="card article" lang="zh-CN">' in article.text
    assert 'href="/portal/help/en/deposit-not-credited"' in article.text  # the other language
    assert "My tickets" in article.text  # inside the portal's layout

    none = client.get("/portal/help", params={"q": "zzqqxx"})
    assert "No article matches your search." in none.text


def test_drafts_and_unknown_articles_are_not_shown(client: TestClient, loaded: Session) -> None:
    from kefu.kb import service as kb
    from kefu.kb.schemas import ArticleCreate, NewTranslation

    kb.create_article(
        loaded,
        ArticleCreate(
            slug="secret-draft",
            category=kb.list_categories(loaded)[0].slug,
            translations=[NewTranslation(language="en", title="Draft", body="Not yet public")],
        ),
        Actor.system(),
    )
    loaded.commit()
    for path in ("/portal/help/en/secret-draft", "/portal/help/en/no-such-article"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Not yet public" not in response.text
        assert 'lang="en"' in response.text and "Back to the help centre" in response.text


# --- ID documents --------------------------------------------------------------------------


def _upload(client: TestClient, csrf: str, files: list[tuple[str, bytes, str]], kind: str) -> Any:
    return client.post(
        "/portal/documents",
        data={"kind": kind, "csrf_token": csrf},
        files=[("files", f) for f in files],
    )


def test_uploads_and_submission_show_the_review_status(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session)
    portal_sign_in(client, customer)
    csrf = portal_csrf(client, "/portal/documents")
    response = _upload(
        client,
        csrf,
        [("front.png", PNG, "image/png"), ("back.pdf", PDF, "application/pdf")],
        "id_card",
    )
    assert response.status_code == 200 and response.url.path == "/portal/documents"
    assert "Uploaded." in response.text
    assert "front.png" in response.text and "back.pdf" in response.text

    submitted = client.post("/portal/documents/submit", data={"csrf_token": csrf})
    assert "Submitted." in submitted.text
    assert "Waiting for review" in submitted.text
    again = client.post("/portal/documents/submit", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "A review of your documents is already pending." in again.text
    actions = [e.action for e in audit_entries(engine, actor_id=customer.id)]
    assert actions.count("identity_document.uploaded") == 2
    assert "identity_review.submitted" in actions


def test_a_decided_review_shows_its_status_and_others_reviews_stay_private(
    client: TestClient, session: Session
) -> None:
    me, other = make_customer(session), make_customer(session)
    reviewer = make_agent(session, role=Role.RISK_OFFICER)
    for customer, reason in ((me, "Photo is blurred"), (other, "Other person's")):
        documents.upload_document(
            session,
            get_settings(),
            customer,
            kind="passport",
            data=PNG,
            declared_type="image/png",
            filename="passport.png",
        )
        review = documents.submit_review(session, customer)
        documents.decide(session, review.id, reviewer, decision="reject", reason=reason)
    session.commit()
    portal_sign_in(client, me)
    page = client.get("/portal/documents")
    assert "Rejected" in page.text and "Photo is blurred" in page.text
    assert "Other person" not in page.text


def test_wrong_type_and_oversize_files_are_refused_by_name_and_nothing_is_kept(
    settings: Settings, engine: Engine, session: Session
) -> None:
    customer = make_customer(session)
    small = settings.model_copy(update={"identity_document_max_bytes": 2_000})
    with TestClient(create_app(small, engine), raise_server_exceptions=False) as client:
        portal_sign_in(client, customer)
        csrf = portal_csrf(client, "/portal/documents")
        wrong = _upload(
            client,
            csrf,
            [("ok.png", PNG, "image/png"), ("notes.txt", b"hello there", "text/plain")],
            "passport",
        )
        assert wrong.status_code == 415
        assert "notes.txt" in wrong.text
        assert "Documents must be JPEG or PNG images or PDF files." in wrong.text

        big = _upload(client, csrf, [("huge.png", PNG + b"\0" * 5_000, "image/png")], "passport")
        assert big.status_code == 413
        assert "huge.png" in big.text and "at most 2000 bytes" in big.text

        selfie = _upload(client, csrf, [("me.pdf", PDF, "application/pdf")], "selfie")
        assert selfie.status_code == 415 and "A selfie must be a JPEG or PNG image." in selfie.text

        nothing = client.post("/portal/documents", data={"kind": "", "csrf_token": csrf})
        assert nothing.status_code == 422
        assert "Choose the kind of document." in nothing.text
        assert "Choose a file to upload." in nothing.text

        good = _upload(client, csrf, [("me.jpg", JPEG, "image/jpeg")], "selfie")
        assert good.status_code == 200
    with new_session(engine) as s:
        names = s.scalars(
            select(IdentityDocument.filename).where(IdentityDocument.customer_id == customer.id)
        ).all()
        assert names == ["me.jpg"]  # the refused batches left nothing behind


# --- is this really kefu support? ----------------------------------------------------------


def _chat_with_agent(session: Session, customer: Any, agent_name: str | None) -> tuple[str, str]:
    """A chat of the customer's (as the widget opens one), answered by an agent if named:
    (verification code, the agent's public handle or "")."""
    conversation = Conversation(customer_id=customer.id, language="en")
    session.add(conversation)
    session.flush()
    chat_session = chat.ensure_chat(session, conversation)
    handle = ""
    if agent_name is not None:
        agent = make_agent(session, display_name=agent_name)
        chat_session.agent_id = agent.id
        handle = chat.support_identity(session, agent).handle
    session.commit()
    return chat_session.verification_code, handle


def test_the_support_check_lists_conversations_and_checks_a_code(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer, other = make_customer(session), make_customer(session)
    code, handle = _chat_with_agent(session, customer, "Wang Fang")
    their_code, _ = _chat_with_agent(session, other, None)
    portal_sign_in(client, customer)
    page = client.get("/portal/verify")
    assert code in page.text and "Wang Fang" in page.text and handle in page.text
    assert their_code not in page.text
    csrf = csrf_from(page.text)

    typed = code.lower().replace("-", " ")
    genuine = client.post("/portal/verify", data={"code": typed, "csrf_token": csrf})
    assert genuine.status_code == 200
    assert "Genuine" in genuine.text and f"Your agent is Wang Fang ({handle})" in genuine.text
    # Another customer's real code proves nothing to this one.
    fake = client.post("/portal/verify", data={"code": their_code, "csrf_token": csrf})
    assert "Not genuine" in fake.text
    malformed = client.post("/portal/verify", data={"code": "12345", "csrf_token": csrf})
    assert malformed.status_code == 200 and "Not genuine" in malformed.text
    empty = client.post("/portal/verify", data={"code": " ", "csrf_token": csrf})
    assert empty.status_code == 422 and "Enter the code you were given." in empty.text

    checks = audit_entries(engine, action="chat.code_checked")
    assert [e.data["genuine"] for e in checks] == [True, False]
    assert all(code not in str(e.data) and their_code not in str(e.data) for e in checks)


def test_the_support_check_without_conversations(client: TestClient, session: Session) -> None:
    portal_sign_in(client, make_customer(session))
    page = client.get("/portal/verify")
    assert page.status_code == 200
    assert "You have no chat conversations with support yet." in page.text


# --- language ------------------------------------------------------------------------------


def test_the_language_switch_keeps_the_page_and_the_choice(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session, language="en")
    portal_sign_in(client, customer)
    csrf = portal_csrf(client, "/portal/documents")
    switched = client.post(
        "/portal/language",
        data={"language": "zh-CN", "next": "/portal/documents", "csrf_token": csrf},
    )
    assert switched.url.path == "/portal/documents"
    assert '<html lang="zh-CN">' in switched.text and "身份证件" in switched.text
    # Kept for the session, and an outside `next` is not followed.
    outside = client.post(
        "/portal/language",
        data={"language": "en", "next": "https://evil.example/", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert outside.headers["location"] == "/portal"
    assert '<html lang="en">' in client.get("/portal/tickets").text


def test_a_signed_in_customer_gets_the_chat_widget_with_their_own_token(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session)
    assert "/static/chat/widget.js" not in client.get("/portal/help").text
    portal_sign_in(client, customer)
    page = client.get("/portal/tickets")
    found = re.search(r'src="/static/chat/widget\.js" defer data-kefu-token="([^"]+)"', page.text)
    assert found is not None
    with new_session(engine) as s:
        assert identity.verify_customer_token(s, found.group(1)).id == customer.id
