"""Identity documents (sealed at rest) and the reviews that group them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin


class DocumentKind(StrEnum):
    PASSPORT = "passport"
    ID_CARD = "id_card"
    DRIVER_LICENCE = "driver_licence"
    SELFIE = "selfie"
    PROOF_OF_ADDRESS = "proof_of_address"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class IdentityReview(IdMixin, Base):
    """One submission of documents, decided once by a reviewer."""

    __tablename__ = "identity_reviews"
    __table_args__ = (Index("ix_identity_reviews_status_submitted_at", "status", "submitted_at"),)

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.PENDING)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    reason: Mapped[str | None] = mapped_column(Text)


class IdentityDocument(IdMixin, Base):
    """An uploaded file: only its AES-GCM sealed bytes are stored (associated data = the id),
    with the SHA-256 of the plaintext so a reviewer can match it to a copy elsewhere."""

    __tablename__ = "identity_documents"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    # Empty until the customer submits the document for review.
    review_id: Mapped[str | None] = mapped_column(ForeignKey("identity_reviews.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    content_type: Mapped[str] = mapped_column(String(50))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Deferred: listings never load the file itself.
    sealed: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
