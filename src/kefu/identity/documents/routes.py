"""The ID-document API: customers upload and submit, reviewers (`documents.review`) work the
queue and decide, and `documents.view` opens a document (audited, with a reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from kefu.core.errors import PermissionDenied
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity.deps import CurrentPrincipal, Principal, require
from kefu.identity.documents import service
from kefu.identity.documents.models import IdentityDocument, IdentityReview, ReviewStatus
from kefu.identity.documents.schemas import DecisionIn, DocumentOut, ReviewOut, ReviewStatusOut
from kefu.identity.models import Customer
from kefu.identity.permissions import Permission

router = APIRouter(prefix="/api/v1/identity", tags=["identity documents"])

UPLOAD_PATH = "/api/v1/identity/documents"

Reviewer = Annotated[Principal, Depends(require(Permission.DOCUMENTS_REVIEW))]
Viewer = Annotated[Principal, Depends(require(Permission.DOCUMENTS_VIEW))]


def _customer(principal: Principal) -> Customer:
    if principal.customer is None:
        raise PermissionDenied()
    return principal.customer


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def review_out(review: IdentityReview, documents: list[IdentityDocument]) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        customer_id=review.customer_id,
        status=review.status,
        submitted_at=review.submitted_at,
        decided_at=review.decided_at,
        decided_by=review.decided_by,
        reason=review.reason,
        documents=[DocumentOut.model_validate(d) for d in documents],
    )


@router.post("/documents", status_code=201, response_model=DocumentOut)
def upload_document(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    kind: Annotated[str, Form(max_length=40)],
    file: Annotated[UploadFile, File()],
) -> DocumentOut:
    """Multipart upload (`kind`, `file`): JPEG, PNG or PDF, checked by content."""
    customer = _customer(principal)
    settings = _settings(request)
    # Read one byte past the limit: enough to know the file is too large. A plain (sync)
    # route: the database work runs in the thread pool, not on the event loop.
    data = file.file.read(settings.identity_document_max_bytes + 1)
    document = service.upload_document(
        db,
        settings,
        customer,
        kind=kind,
        data=data,
        declared_type=file.content_type,
        filename=file.filename,
    )
    return DocumentOut.model_validate(document)


@router.get("/documents", response_model=list[DocumentOut])
def my_unsubmitted_documents(db: DbSession, principal: CurrentPrincipal) -> list[DocumentOut]:
    """The caller's documents not yet submitted for review."""
    customer = _customer(principal)
    return [DocumentOut.model_validate(d) for d in service.unsubmitted_documents(db, customer.id)]


@router.post("/reviews", status_code=201, response_model=ReviewStatusOut)
def submit_review(db: DbSession, principal: CurrentPrincipal) -> ReviewStatusOut:
    """Submits every uploaded, unsubmitted document as one review request."""
    review = service.submit_review(db, _customer(principal))
    return ReviewStatusOut.model_validate(review)


@router.get("/reviews/mine", response_model=list[ReviewStatusOut])
def my_reviews(db: DbSession, principal: CurrentPrincipal) -> list[ReviewStatusOut]:
    customer = _customer(principal)
    return [ReviewStatusOut.model_validate(r) for r in service.customer_reviews(db, customer.id)]


@router.get("/reviews", response_model=list[ReviewOut])
def review_queue(
    db: DbSession,
    _: Reviewer,
    status: ReviewStatus = ReviewStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ReviewOut]:
    """Pending reviews oldest first (the queue); decided ones latest decision first."""
    if status == ReviewStatus.PENDING:
        reviews = service.pending_reviews(db, limit=limit, offset=offset)
    else:
        reviews = service.decided_reviews(db, status=status, limit=limit, offset=offset)
    documents = service.documents_by_review(db, [r.id for r in reviews])
    return [review_out(r, documents[r.id]) for r in reviews]


@router.get("/reviews/{review_id}", response_model=ReviewOut)
def get_review(review_id: str, db: DbSession, principal: Reviewer) -> ReviewOut:
    assert principal.agent is not None
    review = service.read_review(db, review_id, principal.agent)
    return review_out(review, service.review_documents(db, review.id))


@router.post("/reviews/{review_id}/decision", response_model=ReviewOut)
def decide(review_id: str, body: DecisionIn, db: DbSession, principal: Reviewer) -> ReviewOut:
    """Approve or reject (a reason is required to reject). Decisions are final."""
    assert principal.agent is not None
    review = service.decide(
        db, review_id, principal.agent, decision=body.decision, reason=body.reason
    )
    return review_out(review, service.review_documents(db, review.id))


def document_response(opened: service.OpenedDocument, *, inline: bool) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(
        opened.content,
        media_type=opened.document.content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{opened.download_name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            # A PDF opened in the browser runs no script and cannot be framed elsewhere.
            "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
        },
    )


@router.get("/documents/{document_id}/content")
def view_document(
    request: Request,
    document_id: str,
    db: DbSession,
    principal: Viewer,
    reason: Annotated[str, Query(max_length=2000, description="Why the document is opened")],
    download: bool = False,
) -> Response:
    """The decrypted file. Every view is audited with the viewer and the reason."""
    assert principal.agent is not None
    opened = service.view_document(db, _settings(request), document_id, principal.agent, reason)
    return document_response(opened, inline=not download)
