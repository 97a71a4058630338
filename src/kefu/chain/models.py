"""Address labels (the exchange's own wallets, reported scam addresses) and address-control
challenges (a message with a nonce that the holder of an address signs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, TimestampMixin


class AddressLabel(IdMixin, TimestampMixin, Base):
    __tablename__ = "chain_address_labels"
    __table_args__ = (UniqueConstraint("chain", "address"),)

    chain: Mapped[str] = mapped_column(String(32))
    # Normalised: lower case for EVM and bech32 addresses, as written for Base58.
    address: Mapped[str] = mapped_column(String(128))
    # exchange_hot | exchange_cold | exchange_deposit | scam | other
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(36))


class AddressChallenge(IdMixin, Base):
    __tablename__ = "chain_challenges"

    chain: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(128))
    ticket_id: Mapped[str | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    message: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # open | verified | failed (too many wrong answers); expiry is read from expires_at.
    status: Mapped[str] = mapped_column(String(12), default="open")
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[datetime | None]
    proof_format: Mapped[str | None] = mapped_column(String(12))
