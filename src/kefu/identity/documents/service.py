"""Uploading, submitting, viewing and deciding identity documents.

A file is accepted only if its first bytes say JPEG, PNG or PDF and the type the client
declared agrees: the declared type alone is whatever the uploader wants it to be. Files are
sealed with the deployment's data key before they reach the database; every view of one is
audited with who looked and why.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.crypto import sealer_for
from kefu.core.errors import (
    BadRequest,
    Conflict,
    KefuError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from kefu.core.i18n import N_
from kefu.core.ids import new_id
from kefu.core.settings import Settings
from kefu.identity.documents.models import (
    DocumentKind,
    IdentityDocument,
    IdentityReview,
    ReviewStatus,
)
from kefu.identity.models import Agent, Customer

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"%PDF-", PDF),
)
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}
# Spellings clients send for the same type.
_DECLARED_ALIASES = {"image/jpg": JPEG, "image/pjpeg": JPEG, "application/x-pdf": PDF}
# A selfie is a photograph; a PDF selfie is refused.
_IMAGE_ONLY = {DocumentKind.SELFIE}
# Documents waiting to be submitted, per customer: uploads cannot fill the disk.
MAX_UNSUBMITTED = 10
MAX_REASON = 2000

# What people read for each kind and status (msgids; pages translate them).
KIND_LABELS = {
    DocumentKind.PASSPORT: N_("Passport"),
    DocumentKind.ID_CARD: N_("Identity card"),
    DocumentKind.DRIVER_LICENCE: N_("Driving licence"),
    DocumentKind.SELFIE: N_("Selfie"),
    DocumentKind.PROOF_OF_ADDRESS: N_("Proof of address"),
}
STATUS_LABELS = {
    ReviewStatus.PENDING: N_("Waiting for review"),
    ReviewStatus.APPROVED: N_("Approved"),
    ReviewStatus.REJECTED: N_("Rejected"),
}


class UnsupportedDocumentType(KefuError):
    status = 415
    code = "unsupported_document_type"
    message = N_("Documents must be JPEG or PNG images or PDF files.")


class DocumentTypeMismatch(KefuError):
    status = 415
    code = "document_type_mismatch"
    message = N_("The file's content is %(actual)s but it was sent as %(declared)s.")


class DocumentTooLarge(KefuError):
    status = 413
    code = "document_too_large"
    message = N_("Documents may be at most %(limit)s bytes.")


class EmptyDocument(BadRequest):
    code = "empty_document"
    message = N_("The file is empty.")


class UnknownDocumentKind(ValidationFailed):
    code = "unknown_document_kind"
    message = N_("Unknown document kind %(kind)s.")


class SelfieMustBeImage(UnsupportedDocumentType):
    code = "selfie_must_be_image"
    message = N_("A selfie must be a JPEG or PNG image.")


class TooManyDocuments(Conflict):
    code = "too_many_documents"
    message = N_("Submit the documents already uploaded before adding more (at most %(limit)s).")


class NothingToSubmit(BadRequest):
    code = "no_documents"
    message = N_("Upload at least one document before submitting.")


class ReviewPending(Conflict):
    code = "review_pending"
    message = N_("A review of your documents is already pending.")


class ReviewAlreadyDecided(Conflict):
    code = "review_already_decided"
    message = N_("This review was already decided; decisions are final.")


class ReasonRequired(ValidationFailed):
    code = "reason_required"
    message = N_("A reason is required.")


class OwnReview(PermissionDenied):
    code = "own_identity_review"
    message = N_("You cannot decide a review of your own identity documents.")


class UnknownDecision(ValidationFailed):
    code = "unknown_decision"
    message = N_("The decision must be approve or reject.")


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves declare, if it is one we accept."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    return None


def _clean_filename(name: str | None) -> str:
    """Kept for the reviewer's information only; never used in a header or path."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.sub(r"[\x00-\x1f\x7f/\\]", "_", text).strip()
    return text[-255:] or "document"


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired()
    if len(text) > MAX_REASON:
        raise ValidationFailed()
    return text


def upload_document(
    session: Session,
    settings: Settings,
    customer: Customer,
    *,
    kind: str,
    data: bytes,
    declared_type: str | None,
    filename: str | None,
) -> IdentityDocument:
    try:
        document_kind = DocumentKind(kind)
    except ValueError:
        raise UnknownDocumentKind(kind=kind[:40]) from None
    if not data:
        raise EmptyDocument()
    limit = settings.identity_document_max_bytes
    if len(data) > limit:
        raise DocumentTooLarge(limit=limit)
    actual = sniff(data)
    if actual is None:
        raise UnsupportedDocumentType()
    declared = (declared_type or "").split(";")[0].strip().lower()
    declared = _DECLARED_ALIASES.get(declared, declared)
    if declared != actual:
        raise DocumentTypeMismatch(actual=actual, declared=declared[:50] or "-")
    if document_kind in _IMAGE_ONLY and actual == PDF:
        raise SelfieMustBeImage()
    waiting = session.scalar(
        select(func.count(IdentityDocument.id)).where(
            IdentityDocument.customer_id == customer.id, IdentityDocument.review_id.is_(None)
        )
    )
    if (waiting or 0) >= MAX_UNSUBMITTED:
        raise TooManyDocuments(limit=MAX_UNSUBMITTED)
    document_id = new_id()
    document = IdentityDocument(
        id=document_id,
        customer_id=customer.id,
        kind=document_kind,
        content_type=actual,
        filename=_clean_filename(filename),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_at=utcnow(),
        # Bound to its row: sealed bytes copied into another document's row do not open.
        sealed=sealer_for(settings).seal(data, document_id.encode()),
    )
    session.add(document)
    record(
        session,
        Actor.customer(customer.id),
        "identity_document.uploaded",
        subject_type="identity_document",
        subject_id=document.id,
        data={"kind": str(document_kind), "content_type": actual, "size": len(data)},
    )
    return document


def submit_review(session: Session, customer: Customer) -> IdentityReview:
    """Groups the customer's unsubmitted documents into one review request."""
    pending = session.scalar(
        select(IdentityReview.id).where(
            IdentityReview.customer_id == customer.id,
            IdentityReview.status == ReviewStatus.PENDING,
        )
    )
    if pending is not None:
        raise ReviewPending()
    documents = unsubmitted_documents(session, customer.id)
    if not documents:
        raise NothingToSubmit()
    review = IdentityReview(
        customer_id=customer.id, status=ReviewStatus.PENDING, submitted_at=utcnow()
    )
    session.add(review)
    session.flush()
    for document in documents:
        document.review_id = review.id
    record(
        session,
        Actor.customer(customer.id),
        "identity_review.submitted",
        subject_type="identity_review",
        subject_id=review.id,
        data={"documents": [d.id for d in documents]},
    )
    return review


def unsubmitted_documents(session: Session, customer_id: str) -> list[IdentityDocument]:
    return list(
        session.scalars(
            select(IdentityDocument)
            .where(
                IdentityDocument.customer_id == customer_id, IdentityDocument.review_id.is_(None)
            )
            .order_by(IdentityDocument.uploaded_at, IdentityDocument.id)
        )
    )


def customer_reviews(session: Session, customer_id: str) -> list[IdentityReview]:
    """A customer's own reviews, newest first."""
    return list(
        session.scalars(
            select(IdentityReview)
            .where(IdentityReview.customer_id == customer_id)
            .order_by(IdentityReview.submitted_at.desc(), IdentityReview.id.desc())
        )
    )


def pending_reviews(session: Session, *, limit: int = 50, offset: int = 0) -> list[IdentityReview]:
    """The review queue: oldest submission first."""
    return list(
        session.scalars(
            select(IdentityReview)
            .where(IdentityReview.status == ReviewStatus.PENDING)
            .order_by(IdentityReview.submitted_at, IdentityReview.id)
            .limit(limit)
            .offset(offset)
        )
    )


def decided_reviews(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[IdentityReview]:
    """Decided reviews (approved, rejected or both), latest decision first."""
    statuses = [status] if status else [ReviewStatus.APPROVED, ReviewStatus.REJECTED]
    return list(
        session.scalars(
            select(IdentityReview)
            .where(IdentityReview.status.in_(statuses))
            .order_by(IdentityReview.decided_at.desc(), IdentityReview.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def count_pending_reviews(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count(IdentityReview.id)).where(
                IdentityReview.status == ReviewStatus.PENDING
            )
        )
        or 0
    )


def get_review(session: Session, review_id: str) -> IdentityReview:
    review = session.get(IdentityReview, review_id)
    if review is None:
        raise NotFound(kind=N_("Review"), id=review_id[:40])
    return review


def review_documents(session: Session, review_id: str) -> list[IdentityDocument]:
    return list(
        session.scalars(
            select(IdentityDocument)
            .where(IdentityDocument.review_id == review_id)
            .order_by(IdentityDocument.uploaded_at, IdentityDocument.id)
        )
    )


def documents_by_review(
    session: Session, review_ids: list[str]
) -> dict[str, list[IdentityDocument]]:
    """A page of reviews' documents in one query."""
    found: dict[str, list[IdentityDocument]] = {review_id: [] for review_id in review_ids}
    if review_ids:
        for document in session.scalars(
            select(IdentityDocument)
            .where(IdentityDocument.review_id.in_(review_ids))
            .order_by(IdentityDocument.uploaded_at, IdentityDocument.id)
        ):
            found[document.review_id or ""].append(document)
    return found


def read_review(session: Session, review_id: str, agent: Agent) -> IdentityReview:
    """A reviewer opens a review: audited, since it shows who submitted what."""
    review = get_review(session, review_id)
    record(
        session,
        Actor.agent(agent.id),
        "identity_review.read",
        subject_type="identity_review",
        subject_id=review.id,
    )
    return review


@dataclass(frozen=True)
class OpenedDocument:
    document: IdentityDocument
    content: bytes

    @property
    def download_name(self) -> str:
        """A name built from what we know, never from the uploader's filename."""
        extension = EXTENSIONS.get(self.document.content_type, "bin")
        return f"{self.document.kind}-{self.document.id}.{extension}"


def view_document(
    session: Session,
    settings: Settings,
    document_id: str,
    agent: Agent,
    reason: str | None,
    *,
    review_id: str | None = None,
) -> OpenedDocument:
    """Decrypts a document for a reviewer and records the view with its reason. With
    `review_id`, the document must belong to that review (the console's links)."""
    why = _clean_reason(reason)
    document = session.scalar(
        select(IdentityDocument)
        .where(IdentityDocument.id == document_id)
        .options(undefer(IdentityDocument.sealed))
    )
    if document is None or (review_id is not None and document.review_id != review_id):
        raise NotFound(kind=N_("Document"), id=document_id[:40])
    content = sealer_for(settings).open(document.sealed, document.id.encode())
    record(
        session,
        Actor.agent(agent.id),
        "identity_document.viewed",
        subject_type="identity_document",
        subject_id=document.id,
        data={"reason": why, "review_id": document.review_id, "customer_id": document.customer_id},
    )
    return OpenedDocument(document, content)


def decide(
    session: Session, review_id: str, agent: Agent, *, decision: str, reason: str | None
) -> IdentityReview:
    """Approve or reject, once. A rejection needs a reason; an approval may carry one."""
    if decision not in ("approve", "reject"):
        raise UnknownDecision()
    review = session.scalar(
        select(IdentityReview).where(IdentityReview.id == review_id).with_for_update()
    )
    if review is None:
        raise NotFound(kind=N_("Review"), id=review_id[:40])
    if review.status != ReviewStatus.PENDING:
        raise ReviewAlreadyDecided()
    customer = session.get(Customer, review.customer_id)
    # An agent who is also a customer of the exchange (same email) never decides their own.
    if customer is not None and (customer.email or "").strip().lower() == agent.email.lower():
        raise OwnReview()
    if decision == "reject":
        text: str | None = _clean_reason(reason)
    else:
        text = (reason or "").strip() or None
        if text is not None and len(text) > MAX_REASON:
            raise ValidationFailed()
    review.status = ReviewStatus.APPROVED if decision == "approve" else ReviewStatus.REJECTED
    review.decided_at = utcnow()
    review.decided_by = agent.id
    review.reason = text
    session.flush()
    record(
        session,
        Actor.agent(agent.id),
        f"identity_review.{review.status}",
        subject_type="identity_review",
        subject_id=review.id,
        data={"customer_id": review.customer_id, "reason": text},
    )
    return review


def identity_reverified_at(session: Session, customer_id: str) -> datetime | None:
    """When the customer's identity was last proven by a document review (the decision time of
    the latest approved review), for step-up policies; None if never."""
    return session.scalar(
        select(func.max(IdentityReview.decided_at)).where(
            IdentityReview.customer_id == customer_id,
            IdentityReview.status == ReviewStatus.APPROVED,
        )
    )
