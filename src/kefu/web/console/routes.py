"""Console pages: sign-in and sign-out, the language switch, home, and the ID-document
review queue. Every form that changes something carries a CSRF token (`verify_csrf`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kefu.audit.service import record
from kefu.core import i18n
from kefu.core.errors import KefuError
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity import service as identity
from kefu.identity.documents import service as documents
from kefu.identity.documents.routes import document_response
from kefu.identity.permissions import Permission
from kefu.tickets import service as tickets
from kefu.web.console.auth import (
    HOME,
    ConsoleAgent,
    SignedIn,
    after_password,
    console_require,
    optional_console_agent,
    safe_next,
)
from kefu.web.rendering import LANGUAGE_NAMES, render
from kefu.web.security import (
    LANGUAGE_COOKIE,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    delete_cookie,
    set_cookie,
    verify_csrf,
)

router = APIRouter(prefix="/console", include_in_schema=False)

Csrf = Depends(verify_csrf)
MaybeSignedIn = Annotated[ConsoleAgent | None, Depends(optional_console_agent)]
Reviewer = Annotated[ConsoleAgent, Depends(console_require(Permission.DOCUMENTS_REVIEW))]
Viewer = Annotated[ConsoleAgent, Depends(console_require(Permission.DOCUMENTS_VIEW))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


# --- sign-in -----------------------------------------------------------------------------


@router.get("/sign-in")
def sign_in_page(request: Request, user: MaybeSignedIn, next: str | None = None) -> Response:
    if user is not None:
        return _see_other(safe_next(next))
    return render(request, "console/sign_in.html", {"next": safe_next(next), "email": ""})


@router.post("/sign-in", dependencies=[Csrf])
def sign_in(
    request: Request,
    db: DbSession,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    try:
        issued = identity.login(db, email, password)
    except (identity.InvalidCredentials, identity.SignInLocked) as error:
        # The failed attempt is committed with this response (throttling counts it).
        context = {"next": safe_next(next), "email": email, "error": error}
        return render(request, "console/sign_in.html", context, status_code=error.status)
    response = _see_other(after_password(db, issued.agent, issued.session, safe_next(next)))
    # A fresh token at every sign-in: a cookie planted before it is worth nothing after.
    hours = _settings(request).agent_session_hours
    set_cookie(request, response, SESSION_COOKIE, issued.token, max_age=hours * 3600)
    delete_cookie(request, response, PRE_SESSION_COOKIE)
    return response


@router.post("/sign-out", dependencies=[Csrf])
def sign_out(request: Request, db: DbSession, user: MaybeSignedIn) -> Response:
    if user is not None:
        identity.logout(db, user.session)
    response = _see_other("/console/sign-in")
    delete_cookie(request, response, SESSION_COOKIE)
    return response


@router.post("/language", dependencies=[Csrf])
def switch_language(
    request: Request,
    db: DbSession,
    user: MaybeSignedIn,
    language: Annotated[str, Form(max_length=20)],
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    """Saves the choice on the agent when signed in, and in a cookie for the sign-in page."""
    chosen = i18n.normalize_language(language)
    if chosen is None or chosen not in LANGUAGE_NAMES:
        chosen = i18n.default_language()
    if user is not None and user.agent.language != chosen:
        user.agent.language = chosen
        request.state.language = chosen
        record(
            db,
            user.actor,
            "agent.language_changed",
            subject_type="agent",
            subject_id=user.agent.id,
            data={"language": chosen},
        )
    target = next if next == "/" or next.startswith("/console/sign-in") else safe_next(next)
    response = _see_other(target)
    set_cookie(request, response, LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600)
    return response


# --- home --------------------------------------------------------------------------------


@router.get("")
def home(request: Request, db: DbSession, user: SignedIn) -> Response:
    agent = user.agent
    open_statuses = list(tickets.OPEN_STATUSES)
    mine = tickets.list_tickets(
        db,
        tickets.TicketFilter(status=open_statuses, assignee_id=agent.id, limit=50),
        agent=agent,
    )
    queue = tickets.list_tickets(
        db, tickets.TicketFilter(status=open_statuses, limit=50), agent=agent
    )
    pending_reviews = (
        documents.count_pending_reviews(db) if user.can(Permission.DOCUMENTS_REVIEW) else None
    )
    return render(
        request,
        "console/home.html",
        {
            "mine": mine,
            "queue": [t for t in queue if t.assignee_id != agent.id],
            "pending_reviews": pending_reviews,
        },
    )


# --- ID-document review ------------------------------------------------------------------


@router.get("/reviews")
def review_queue(request: Request, db: DbSession, user: Reviewer) -> Response:
    reviews = documents.pending_reviews(db, limit=200)
    decided = documents.decided_reviews(db, limit=20)
    docs = documents.documents_by_review(db, [r.id for r in reviews])
    customers = {
        r.customer_id: identity.get_customer(db, r.customer_id) for r in [*reviews, *decided]
    }
    return render(
        request,
        "console/reviews.html",
        {"reviews": reviews, "decided": decided, "documents": docs, "customers": customers},
    )


def _review_page(
    request: Request,
    db: DbSession,
    user: ConsoleAgent,
    review_id: str,
    *,
    error: KefuError | None = None,
    reason: str = "",
) -> Response:
    review = documents.read_review(db, review_id, user.agent)
    return render(
        request,
        "console/review.html",
        {
            "review": review,
            "customer": identity.get_customer(db, review.customer_id),
            "documents": documents.review_documents(db, review.id),
            "decider": identity.get_agent(db, review.decided_by) if review.decided_by else None,
            "history": [
                r for r in documents.customer_reviews(db, review.customer_id) if r.id != review.id
            ],
            "can_view": user.can(Permission.DOCUMENTS_VIEW),
            "error": error,
            "reason": reason,
        },
        status_code=error.status if error else 200,
    )


@router.get("/reviews/{review_id}")
def review_page(request: Request, review_id: str, db: DbSession, user: Reviewer) -> Response:
    return _review_page(request, db, user, review_id)


@router.post("/reviews/{review_id}/decision", dependencies=[Csrf])
def decide(
    request: Request,
    review_id: str,
    db: DbSession,
    user: Reviewer,
    decision: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        documents.decide(db, review_id, user.agent, decision=decision, reason=reason)
    except (
        documents.ReasonRequired,
        documents.ReviewAlreadyDecided,
        documents.UnknownDecision,
        documents.OwnReview,
    ) as error:
        return _review_page(request, db, user, review_id, error=error, reason=reason)
    return _see_other(f"/console/reviews/{review_id}")


@router.get("/reviews/{review_id}/documents/{document_id}")
def view_document(
    request: Request,
    review_id: str,
    document_id: str,
    db: DbSession,
    user: Viewer,
    download: bool = False,
) -> Response:
    """Images shown inline on the review page, PDFs downloaded; each view audited."""
    opened = documents.view_document(
        db,
        _settings(request),
        document_id,
        user.agent,
        f"console: identity review {review_id}",
        review_id=review_id,
    )
    inline = not download and opened.document.content_type != documents.PDF
    return document_response(opened, inline=inline)
