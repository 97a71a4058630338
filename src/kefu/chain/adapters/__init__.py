"""The `ChainBackend` port and what it answers, with adapters for Esplora REST, Bitcoin Core
JSON-RPC and EVM JSON-RPC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class TxState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True)
class Transfer:
    """One movement of value: a Bitcoin output, an ETH value transfer or an ERC-20 `Transfer`
    log. `amount` is in whole units of `asset` (BTC, ETH, or the token with its decimals)."""

    index: int
    to_address: str | None
    amount: Decimal
    asset: str
    from_address: str | None = None
    token_contract: str | None = None
    kind: str = "output"  # output | native | token


@dataclass(frozen=True)
class ChainTransaction:
    txid: str
    state: TxState
    block_height: int | None = None
    block_hash: str | None = None
    block_time: datetime | None = None
    fee: Decimal | None = None
    fee_asset: str = "BTC"
    transfers: tuple[Transfer, ...] = field(default_factory=tuple)
    inputs_from: tuple[str, ...] = field(default_factory=tuple)


class BackendError(Exception):
    """The backend could not answer (unreachable, timing out, rate limiting, broken)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason  # unreachable | timeout | rate_limited | bad_response
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ChainBackend(Protocol):
    """A node or explorer for one chain. `get_transaction` returns None for a transaction the
    chain (and mempool) does not know."""

    def tip_height(self) -> int: ...

    def get_transaction(self, txid: str) -> ChainTransaction | None: ...
