"""Lookups the bot and the console run on the exchange port: where is my deposit, where is
my withdrawal. Plain async functions over an `Exchange`; no web framework, no database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from pydantic import BaseModel, ConfigDict

from kefu.core.clock import utcnow
from kefu.core.errors import BadRequest
from kefu.core.i18n import N_
from kefu.exchange.adapters.demo import check_asset
from kefu.exchange.port import Account, DepositAddress, Exchange, FreezeScope, Transfer
from kefu.exchange.port import TransferStatus as S

T = TypeVar("T")


def run_port(func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run one call of the async exchange port from synchronous code: on the application's
    event loop when called from one of its worker threads (sync routes, the bot's handlers),
    else on a fresh loop (the CLI, jobs, tests)."""
    try:
        return anyio.from_thread.run(func, *args)
    except anyio.NoEventLoopError:
        return asyncio.run(func(*args))


# How far back an asset-only lookup looks for deposits that have not been credited yet.
LOOKBACK = timedelta(days=30)
_TX_HASH = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class InvalidTxHash(BadRequest):
    code = "invalid_tx_hash"
    message = N_("A transaction hash is 64 hexadecimal characters (with 0x on EVM chains).")


class LookupNeedsKey(BadRequest):
    code = "lookup_needs_key"
    message = N_("Give a transaction hash or an asset to look up.")


class Verdict(StrEnum):
    CREDITED = "credited"  # deposit completed: the funds are in the account
    CONFIRMING = "confirming"  # seen on chain, waiting for the exchange's confirmations
    PENDING = "pending"  # withdrawal accepted, not yet broadcast
    SENT = "sent"  # withdrawal broadcast and confirmed
    FAILED = "failed"
    NOT_FOUND = "not_found"


class TransferCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    transfer: Transfer
    verdict: Verdict
    confirmations_missing: int


class DepositLookup(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    matches: list[TransferCheck]
    # The customer's own deposit addresses for the asset: "did you send to one of these?"
    addresses: list[DepositAddress]


class WithdrawalLookup(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    matches: list[TransferCheck]
    # Why a withdrawal may be held: the account's freeze and lock state.
    frozen_scopes: list[FreezeScope]
    withdrawals_locked: bool
    account: Account


def normalize_tx_hash(value: str) -> str:
    """Hex in lower case without 0x, so a BTC txid and an EVM hash compare alike."""
    value = value.strip()
    if not _TX_HASH.fullmatch(value):
        raise InvalidTxHash()
    return value.lower().removeprefix("0x")


def _same_tx(transfer: Transfer, wanted: str) -> bool:
    return transfer.tx_hash is not None and transfer.tx_hash.lower().removeprefix("0x") == wanted


def _check(t: Transfer, *, deposit: bool) -> TransferCheck:
    missing = max(t.confirmations_required - t.confirmations, 0)
    if t.status in (S.FAILED, S.CANCELLED):
        verdict = Verdict.FAILED
    elif t.status == S.COMPLETED:
        verdict = Verdict.CREDITED if deposit else Verdict.SENT
    elif deposit or t.tx_hash:
        verdict = Verdict.CONFIRMING
    else:
        verdict = Verdict.PENDING
    return TransferCheck(transfer=t, verdict=verdict, confirmations_missing=missing)


def _overall(checks: list[TransferCheck]) -> Verdict:
    return checks[0].verdict if checks else Verdict.NOT_FOUND


async def deposit_status(
    exchange: Exchange, external_id: str, *, tx_hash: str | None = None, asset: str | None = None
) -> DepositLookup:
    """A customer says a deposit has not arrived: match it against their deposits by tx hash,
    or list the asset's recent deposits that are not credited yet."""
    if tx_hash is None and asset is None:
        raise LookupNeedsKey()
    wanted = normalize_tx_hash(tx_hash) if tx_hash is not None else None
    if asset is not None:
        asset = check_asset(asset.strip().upper())
    since = None if wanted else utcnow() - LOOKBACK
    deposits = await exchange.list_deposits(external_id, since=since, asset=asset)
    if wanted is not None:
        found = [d for d in deposits if _same_tx(d, wanted)]
    else:
        found = [d for d in deposits if d.status != S.COMPLETED] or deposits[:5]
    checks = [_check(d, deposit=True) for d in found]
    addresses = await exchange.list_deposit_addresses(external_id)
    shown_asset = asset or (found[0].asset if found else None)
    if shown_asset is not None:
        addresses = [a for a in addresses if a.asset == shown_asset]
    return DepositLookup(verdict=_overall(checks), matches=checks, addresses=addresses)


async def withdrawal_status(
    exchange: Exchange,
    external_id: str,
    *,
    withdrawal_id: str | None = None,
    tx_hash: str | None = None,
    asset: str | None = None,
) -> WithdrawalLookup:
    """Where a withdrawal is, and whether a freeze or a lock is holding the account's."""
    wanted = normalize_tx_hash(tx_hash) if tx_hash is not None else None
    if asset is not None:
        asset = check_asset(asset.strip().upper())
    account = await exchange.get_account(external_id)
    since = None if (wanted or withdrawal_id) else utcnow() - LOOKBACK
    withdrawals = await exchange.list_withdrawals(external_id, since=since, asset=asset)
    if withdrawal_id is not None:
        found = [w for w in withdrawals if w.id == withdrawal_id]
    elif wanted is not None:
        found = [w for w in withdrawals if _same_tx(w, wanted)]
    else:
        found = withdrawals[:10]
    checks = [_check(w, deposit=False) for w in found]
    frozen = set(account.frozen_scopes)
    if FreezeScope.ALL in frozen:
        frozen = set(FreezeScope) - {FreezeScope.ALL}
    locked = bool(account.withdrawals_locked_until and account.withdrawals_locked_until > utcnow())
    return WithdrawalLookup(
        verdict=_overall(checks),
        matches=checks,
        frozen_scopes=sorted(frozen),
        withdrawals_locked=locked,
        account=account,
    )
