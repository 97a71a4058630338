"""A customer's portal session: kefu's own, opened once from the exchange's signed token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, IdMixin


class PortalSession(IdMixin, Base):
    """Only digests are stored: of the cookie's token, and of the exchange token that opened
    the session (unique, so one signed link opens one session and no more)."""

    __tablename__ = "portal_sessions"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
