"""Customer portal pages.

Sign-in is a one-time GET link (or a POST from the exchange's own form) carrying the
exchange's signed customer token: kefu verifies it, opens its own short cookie session and
answers 303 at once, so the token never stays in the address bar, in the history entry of a
page the customer sees, or in a Referer (the redirect itself says `no-referrer`). The link
works once. Every form of the portal itself carries a CSRF token bound to the portal cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from kefu.chat.service import BadVerificationCode
from kefu.core import i18n
from kefu.core.clock import utcnow
from kefu.core.errors import KefuError, NotFound
from kefu.core.i18n import N_
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity import service as identity
from kefu.identity.documents import service as documents
from kefu.identity.documents.models import DocumentKind
from kefu.identity.models import Customer
from kefu.kb import service as kb
from kefu.kb.render import to_html
from kefu.kb.search import looks_chinese
from kefu.tickets import service as tickets
from kefu.tickets.models import Category, Channel, Message, MessageKind, Status, Ticket
from kefu.web.portal import conversations
from kefu.web.portal import service as portal
from kefu.web.portal.auth import (
    HOME,
    SIGN_IN,
    CustomerView,
    MaybeCustomer,
    PortalCustomer,
    SignedInCustomer,
    delete_portal_cookie,
    safe_next,
    set_portal_cookie,
)
from kefu.web.rendering import LANGUAGE_NAMES, render
from kefu.web.security import LANGUAGE_COOKIE, set_cookie, verify_csrf

router = APIRouter(prefix="/portal", include_in_schema=False)

Csrf = Depends(verify_csrf)
# The chat widget's customer token: the chat re-authenticates with it on every reconnect.
WIDGET_TOKEN_LIFETIME = timedelta(hours=2)
SUBJECT_MAX = 200
MESSAGE_MAX = 20_000
# Files per upload form: each is checked by the documents service on its own.
MAX_FILES = 5

CATEGORY_LABELS = {
    Category.ACCOUNT: N_("Account and sign-in"),
    Category.KYC: N_("Identity verification"),
    Category.DEPOSIT: N_("Deposit"),
    Category.WITHDRAWAL: N_("Withdrawal"),
    Category.TRADING: N_("Spot trading"),
    Category.FUTURES: N_("Futures"),
    Category.SECURITY: N_("Account security (hacked or stolen funds)"),
    Category.POLICY: N_("Rules and policies"),
    Category.OTHER: N_("Something else"),
}
TICKET_STATUS_LABELS = {
    Status.NEW: N_("Received"),
    Status.OPEN: N_("In progress"),
    Status.PENDING_CUSTOMER: N_("Waiting for your reply"),
    Status.PENDING_INTERNAL: N_("In progress"),
    Status.SOLVED: N_("Solved"),
    Status.CLOSED: N_("Closed"),
}


UPLOAD_PATH = f"{HOME}/documents"


def upload_limits(settings: Settings) -> dict[str, int]:
    """The upload form's body may hold `MAX_FILES` documents of the largest size (and a bit
    over, so the documents service, not the body limit, names a file that is too large)."""
    return {UPLOAD_PATH: MAX_FILES * (settings.identity_document_max_bytes + 1) + 64_000}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def _widget_token(customer: CustomerView) -> str:
    return identity.sign_customer_token(customer.external_id, utcnow() + WIDGET_TOKEN_LIFETIME)


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """A portal page: the layout knows the customer (if signed in), who gets the chat widget
    with a short-lived customer token, signed here as the exchange would sign it."""
    customer: CustomerView | None = getattr(request.state, "portal_customer", None)
    values: dict[str, Any] = {
        "customer": customer,
        "chat_token": _widget_token(customer) if customer is not None else None,
        "when": when,
        "category_labels": CATEGORY_LABELS,
        "ticket_status_labels": TICKET_STATUS_LABELS,
    }
    values.update(context or {})
    return render(request, template, values, status_code=status_code)


def _use_asked_language(request: Request, lang: str | None) -> None:
    """A signed-out page in the language the link asked for, when it names one we speak."""
    chosen = i18n.normalize_language(lang)
    if chosen in LANGUAGE_NAMES and getattr(request.state, "portal_customer", None) is None:
        request.state.language = chosen


# --- sign-in and sign-out ------------------------------------------------------------------


def _sign_in(
    request: Request,
    db: Session,
    user: PortalCustomer | None,
    token: str,
    next_path: str,
    lang: str | None,
) -> Response:
    settings = _settings(request)
    try:
        opened = portal.open_session(db, settings, token, lang)
    except portal.SignInLinkUsed as error:
        # The same link again (a reload, the back button) while already signed in as its
        # customer: carry on rather than stop them.
        same = portal.link_customer(db, token)
        if user is not None and same is not None and same.id == user.customer.id:
            return _no_referrer(_see_other(safe_next(next_path)))
        return _no_referrer(_sign_in_failed(request, lang, error))
    except portal.PortalSignInFailed as error:
        return _no_referrer(_sign_in_failed(request, lang, error))
    if user is not None:
        portal.close_session(db, user.session)
    response = _see_other(safe_next(next_path))
    set_portal_cookie(request, response, opened.token, settings)
    return _no_referrer(response)


def _no_referrer(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _sign_in_failed(request: Request, lang: str | None, error: KefuError) -> Response:
    _use_asked_language(request, lang)
    return page(request, "portal/sign_in.html", {"error": error}, status_code=error.status)


@router.get("/sign-in")
def sign_in_link(
    request: Request,
    db: DbSession,
    user: MaybeCustomer,
    token: Annotated[str | None, Query(max_length=2000)] = None,
    next: Annotated[str | None, Query(max_length=500)] = None,
    lang: Annotated[str | None, Query(max_length=20)] = None,
    expired: Annotated[bool, Query()] = False,
    signed_out: Annotated[bool, Query()] = False,
) -> Response:
    """With `token`: the exchange's link. Without: how to sign in (from the exchange)."""
    if token:
        return _sign_in(request, db, user, token, next or HOME, lang)
    if user is not None:
        return _see_other(safe_next(next))
    _use_asked_language(request, lang)
    return page(request, "portal/sign_in.html", {"expired": expired, "signed_out": signed_out})


@router.post("/sign-in")
def sign_in_form(
    request: Request,
    db: DbSession,
    user: MaybeCustomer,
    token: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=500)] = HOME,
    lang: Annotated[str | None, Form(max_length=20)] = None,
) -> Response:
    """The same sign-in posted by the exchange's page: the token is the proof (a page of
    this site has no form here, so there is no CSRF token to check)."""
    return _sign_in(request, db, user, token, next, lang)


@router.post("/sign-out", dependencies=[Csrf])
def sign_out(request: Request, db: DbSession, user: MaybeCustomer) -> Response:
    if user is not None:
        portal.close_session(db, user.session)
    response = _see_other(f"{SIGN_IN}?signed_out=1")
    delete_portal_cookie(request, response)
    return response


@router.post("/language", dependencies=[Csrf])
def switch_language(
    request: Request,
    db: DbSession,
    user: MaybeCustomer,
    language: Annotated[str, Form(max_length=20)],
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    chosen = i18n.normalize_language(language)
    if chosen is None or chosen not in LANGUAGE_NAMES:
        chosen = i18n.default_language()
    if user is not None:
        portal.set_language(db, user.session, chosen)
    response = _see_other(safe_next(next))
    set_cookie(request, response, LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600)
    return response


# --- my tickets ----------------------------------------------------------------------------


@router.get("")
def home() -> Response:
    return _see_other(f"{HOME}/tickets")


@router.get("/tickets")
def my_tickets(request: Request, db: DbSession, user: SignedInCustomer) -> Response:
    found = tickets.list_tickets(db, tickets.TicketFilter(limit=200), customer=user.customer)
    found.sort(key=lambda t: t.updated_at, reverse=True)
    return page(request, "portal/tickets.html", {"tickets": found})


@dataclass(frozen=True)
class TicketForm:
    category: str = ""
    subject: str = ""
    message: str = ""


def _ticket_form_errors(form: TicketForm) -> dict[str, tuple[str, dict[str, Any]]]:
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    if form.category not in set(Category):
        errors["category"] = (N_("Choose what your question is about."), {})
    if not form.subject.strip():
        errors["subject"] = (N_("Enter a subject."), {})
    elif len(form.subject.strip()) > SUBJECT_MAX:
        errors["subject"] = (N_("The subject is at most %(max)s characters."), {"max": SUBJECT_MAX})
    if not form.message.strip():
        errors["message"] = (N_("Enter your message."), {})
    elif len(form.message) > MESSAGE_MAX:
        errors["message"] = (N_("The message is at most %(max)s characters."), {"max": MESSAGE_MAX})
    return errors


def _new_ticket_page(
    request: Request,
    form: TicketForm,
    errors: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> Response:
    return page(
        request,
        "portal/ticket_new.html",
        {
            "form": form,
            "errors": errors or {},
            "subject_max": SUBJECT_MAX,
            "message_max": MESSAGE_MAX,
        },
        status_code=422 if errors else 200,
    )


@router.get("/tickets/new")
def new_ticket_page(
    request: Request,
    user: SignedInCustomer,
    category: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return _new_ticket_page(request, TicketForm(category=category))


@router.post("/tickets/new", dependencies=[Csrf])
def create_ticket(
    request: Request,
    db: DbSession,
    user: SignedInCustomer,
    # Lengths are checked below, so an over-long field gets its own message on the form.
    category: Annotated[str, Form(max_length=100)] = "",
    subject: Annotated[str, Form(max_length=100_000)] = "",
    message: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    form = TicketForm(category=category, subject=subject, message=message)
    errors = _ticket_form_errors(form)
    if errors:
        return _new_ticket_page(request, form, errors)
    ticket = tickets.create_ticket(
        db,
        customer=user.customer,
        subject=subject.strip(),
        body=message.strip(),
        category=Category(category),
        actor=user.actor,
        channel=Channel.WEB,
        language=user.session.language,
    )
    return _see_other(f"{HOME}/tickets/{ticket.id}?created=1")


def _author_names(db: Session, messages: list[Message]) -> dict[str, str]:
    """Agents' display names, by id, for the agents who wrote in this conversation."""
    names: dict[str, str] = {}
    for message in messages:
        if message.author_type == "agent" and message.author_id and message.author_id not in names:
            try:
                names[message.author_id] = identity.get_agent(db, message.author_id).display_name
            except NotFound:
                names[message.author_id] = ""
    return names


def _ticket_page(
    request: Request,
    db: Session,
    customer: Customer,
    ticket: Ticket,
    *,
    reply: str = "",
    error: tuple[str, dict[str, Any]] | None = None,
    created: bool = False,
) -> Response:
    # The customer sees the public conversation only: internal notes never leave the desk.
    messages = tickets.list_messages(db, ticket, include_internal=False)
    return page(
        request,
        "portal/ticket.html",
        {
            "ticket": ticket,
            "messages": messages,
            "agent_names": _author_names(db, messages),
            "reply": reply,
            "error": error,
            "created": created,
            "closed": ticket.status == Status.CLOSED,
            "message_max": MESSAGE_MAX,
            "customer_kinds": {MessageKind.CUSTOMER},
        },
        status_code=422 if error else 200,
    )


@router.get("/tickets/{ticket_id}")
def ticket_page(
    request: Request,
    db: DbSession,
    user: SignedInCustomer,
    ticket_id: str,
    created: Annotated[bool, Query()] = False,
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id[:36], customer=user.customer)
    return _ticket_page(request, db, user.customer, ticket, created=created)


@router.post("/tickets/{ticket_id}/reply", dependencies=[Csrf])
def reply(
    request: Request,
    db: DbSession,
    user: SignedInCustomer,
    ticket_id: str,
    message: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    ticket = tickets.get_visible_ticket(db, ticket_id[:36], customer=user.customer)
    error: tuple[str, dict[str, Any]] | None = None
    if not message.strip():
        error = (N_("Enter your message."), {})
    elif len(message) > MESSAGE_MAX:
        error = (N_("The message is at most %(max)s characters."), {"max": MESSAGE_MAX})
    elif ticket.status == Status.CLOSED:
        error = (tickets.TicketClosed.message, {})
    if error is not None:
        return _ticket_page(request, db, user.customer, ticket, reply=message, error=error)
    tickets.add_message(
        db, ticket, kind=MessageKind.CUSTOMER, actor=user.actor, body=message.strip()
    )
    return _see_other(f"{HOME}/tickets/{ticket.id}#latest")


# --- knowledge base ------------------------------------------------------------------------


def _kb_language(request: Request, lang: str | None, query: str = "") -> str:
    chosen = i18n.normalize_language(lang)
    if chosen in LANGUAGE_NAMES:
        return str(chosen)
    if query and looks_chinese(query):
        return "zh-CN"
    language = getattr(request.state, "language", None)
    return language if isinstance(language, str) else i18n.current_language()


def _article_link(slug: str, language: str) -> str:
    return f"{HOME}/help/{language}/{slug}"


@router.get("/help")
def help_centre(
    request: Request,
    db: DbSession,
    user: MaybeCustomer,
    q: Annotated[str, Query(max_length=500)] = "",
    lang: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Search (hybrid: keywords and meaning, zh and en) or, without a query, every article."""
    query = q.strip()
    language = _kb_language(request, lang, query)
    hits = kb.search(db, query, language, limit=10) if query else []
    articles = [] if query else kb.published_articles(db, language)
    return page(
        request,
        "portal/help.html",
        {
            "query": query,
            "kb_language": language,
            "hits": [(hit, _article_link(hit.slug, hit.language)) for hit in hits],
            "articles": [
                (
                    item.translation.published_title or item.article.slug,
                    _article_link(item.article.slug, item.translation.language),
                )
                for item in articles
            ],
        },
    )


@router.get("/help/{language}/{slug}")
def article(
    request: Request, db: DbSession, user: MaybeCustomer, language: str, slug: str
) -> Response:
    """A published article (never a draft) in the portal's layout."""
    item = kb.published_article(db, slug[:120], language[:20])
    translation = item.translation
    return page(
        request,
        "portal/article.html",
        {
            "title": translation.published_title or slug,
            "html": to_html(translation.published_body or ""),
            "article_language": translation.language,
            "published_at": translation.published_at,
            "other_languages": [
                (code, _article_link(item.article.slug, code))
                for code in item.available_languages
                if code != translation.language
            ],
        },
    )


# --- ID documents --------------------------------------------------------------------------


def _documents_page(
    request: Request,
    db: Session,
    customer: Customer,
    *,
    errors: list[tuple[str, str, dict[str, Any]]] | None = None,
    kind: str = "",
    notice: str | None = None,
) -> Response:
    settings = _settings(request)
    reviews = documents.customer_reviews(db, customer.id)
    return page(
        request,
        "portal/documents.html",
        {
            "kinds": list(DocumentKind),
            "kind": kind,
            "waiting": documents.unsubmitted_documents(db, customer.id),
            "reviews": reviews,
            "review_documents": documents.documents_by_review(db, [r.id for r in reviews]),
            "errors": errors or [],
            "notice": notice,
            "max_megabytes": settings.identity_document_max_bytes // 1_000_000,
            "max_files": MAX_FILES,
        },
        status_code=(errors[0][2].get("status", 400) if errors else 200),
    )


@router.get("/documents")
def documents_page(
    request: Request,
    db: DbSession,
    user: SignedInCustomer,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    notice = {
        "uploaded": N_("Uploaded. Add more files, or submit them for review."),
        "submitted": N_("Submitted. We will tell you when the review is done."),
    }.get(done or "")
    return _documents_page(request, db, user.customer, notice=notice)


@router.post("/documents", dependencies=[Csrf])
def upload(
    request: Request,
    db: DbSession,
    user: SignedInCustomer,
    kind: Annotated[str, Form(max_length=40)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Each file is checked by the documents service (type by content, size, kind); any
    refusal uploads none of them and names the file it was about."""
    settings = _settings(request)
    chosen = [f for f in (files or []) if f.filename]
    errors: list[tuple[str, str, dict[str, Any]]] = []
    if kind not in set(DocumentKind):
        errors.append(("", N_("Choose the kind of document."), {"status": 422}))
    if not chosen:
        errors.append(("", N_("Choose a file to upload."), {"status": 422}))
    elif len(chosen) > MAX_FILES:
        errors.append(
            ("", N_("Upload at most %(max)s files at once."), {"status": 422, "max": MAX_FILES})
        )
    if not errors:
        for upload_file in chosen:
            data = upload_file.file.read(settings.identity_document_max_bytes + 1)
            try:
                documents.upload_document(
                    db,
                    settings,
                    user.customer,
                    kind=kind,
                    data=data,
                    declared_type=upload_file.content_type,
                    filename=upload_file.filename,
                )
            except KefuError as error:
                params = {**error.params, "status": error.status}
                errors.append((upload_file.filename or "", error.message, params))
    if errors:
        db.rollback()
        return _documents_page(request, db, user.customer, errors=errors, kind=kind)
    return _see_other(f"{HOME}/documents?done=uploaded")


@router.post("/documents/submit", dependencies=[Csrf])
def submit(request: Request, db: DbSession, user: SignedInCustomer) -> Response:
    try:
        documents.submit_review(db, user.customer)
    except KefuError as error:
        params = {**error.params, "status": error.status}
        return _documents_page(request, db, user.customer, errors=[("", error.message, params)])
    return _see_other(f"{HOME}/documents?done=submitted")


# --- is this really kefu support? ----------------------------------------------------------


def _verify_page(
    request: Request,
    db: Session,
    customer: Customer,
    *,
    code: str = "",
    checked: bool = False,
    error: str | None = None,
) -> Response:
    match = None
    if checked:
        try:
            match = conversations.check_code(db, customer.id, code)
        except BadVerificationCode:  # not even shaped like one of our codes: not genuine
            match = None
    proofs = conversations.customer_conversations(db, customer.id)
    return page(
        request,
        "portal/verify.html",
        {
            "conversations": proofs,
            "code": code,
            "checked": checked,
            "match": match,
            "error": error,
        },
        status_code=422 if error else 200,
    )


@router.get("/verify")
def verify_page(request: Request, db: DbSession, user: SignedInCustomer) -> Response:
    return _verify_page(request, db, user.customer)


@router.post("/verify", dependencies=[Csrf])
def check_code(
    request: Request,
    db: DbSession,
    user: SignedInCustomer,
    code: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not code.strip():
        return _verify_page(
            request, db, user.customer, code=code, error=N_("Enter the code you were given.")
        )
    return _verify_page(request, db, user.customer, code=code, checked=True)
