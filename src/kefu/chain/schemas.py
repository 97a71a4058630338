"""Request and response bodies of the chain API. Amounts are decimal strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

LabelKind = Literal["exchange_hot", "exchange_cold", "exchange_deposit", "scam", "other"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ChainOut(_Out):
    name: str
    kind: str
    family: str
    asset: str
    configured: bool
    explorer_tx_urls: list[str]


class LabelView(_Out):
    kind: str
    label: str
    source: str


class TransferOut(_Out):
    index: int
    kind: str
    from_address: str | None
    to_address: str | None
    amount: Decimal
    asset: str
    token_contract: str | None
    yours: bool
    label: LabelView | None


class ExpectedOut(_Out):
    address: str
    amount: Decimal | None
    asset: str | None
    received_amount: Decimal
    verdict: str


class TxCheckOut(_Out):
    chain: str
    txid: str
    status: str
    confirmations: int
    tip_height: int
    block_height: int | None
    block_hash: str | None
    block_time: datetime | None
    fee: Decimal | None
    fee_asset: str | None
    transfers: list[TransferOut]
    senders: list[str]
    expected: ExpectedOut | None
    explorer_links: list[str]
    checked_at: datetime
    cached: bool
    inclusion: dict[str, Any] | None


class AddressOut(_Out):
    chain: str
    address: str
    valid: bool
    script_type: str | None
    yours: bool
    label: LabelView | None
    account_records: list[dict[str, Any]]
    explorer_links: list[str]


class RawTxIn(BaseModel):
    # 400 000 bytes (the standardness limit) as hex.
    raw_hex: str = Field(min_length=20, max_length=800_000)


class RawInputOut(BaseModel):
    prev_txid: str
    prev_vout: int
    coinbase: bool
    witness_items: int


class RawOutputOut(BaseModel):
    index: int
    amount: Decimal
    address: str | None
    script_pubkey: str


class RawTxOut(BaseModel):
    txid: str
    wtxid: str
    segwit: bool
    version: int
    locktime: int
    size: int
    vsize: int
    weight: int
    inputs: list[RawInputOut]
    outputs: list[RawOutputOut]
    total_out: Decimal


class MerkleProofIn(BaseModel):
    txid: str = Field(min_length=64, max_length=64)
    merkle: list[str] = Field(max_length=64)
    pos: int = Field(ge=0, le=2**32)
    header_hex: str = Field(min_length=160, max_length=160)


class HeaderOut(BaseModel):
    hash: str
    prev_hash: str
    merkle_root: str
    time: int
    bits: int
    nonce: int
    meets_target: bool


class MerkleProofOut(BaseModel):
    valid: bool
    header: HeaderOut


class ProofIn(BaseModel):
    chain: str = Field(min_length=1, max_length=32)
    address: str = Field(min_length=1, max_length=128)
    message: str = Field(max_length=4096)
    signature: str = Field(min_length=1, max_length=2048)


class ProofOut(BaseModel):
    valid: bool
    format: str


class ChallengeIn(BaseModel):
    chain: str = Field(min_length=1, max_length=32)
    address: str = Field(min_length=1, max_length=128)
    ticket_id: str | None = Field(default=None, max_length=36)


class ChallengeAnswerIn(BaseModel):
    signature: str = Field(min_length=1, max_length=2048)


class ChallengeOut(_Out):
    id: str
    chain: str
    address: str
    ticket_id: str | None
    nonce: str
    message: str
    created_at: datetime
    expires_at: datetime
    status: str
    failed_attempts: int
    answered_at: datetime | None
    proof_format: str | None


class LabelCreate(BaseModel):
    chain: str = Field(min_length=1, max_length=32)
    address: str = Field(min_length=1, max_length=128)
    kind: LabelKind
    label: str = Field(min_length=1, max_length=120)
    source: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=2000)


class LabelUpdate(BaseModel):
    kind: LabelKind | None = None
    label: str | None = Field(default=None, min_length=1, max_length=120)
    source: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class LabelOut(_Out):
    id: str
    chain: str
    address: str
    kind: str
    label: str
    source: str
    note: str
    created_at: datetime
    updated_at: datetime
