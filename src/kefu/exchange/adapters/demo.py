"""The demo exchange: a small simulated exchange kept in kefu's own database.

It is a real implementation of the port with its own rules, not a test double: a frozen
(`withdrawals` or `all`) or withdrawal-locked account cannot withdraw, a `sessions` or
`api_keys` freeze revokes them, and every control is idempotent by its key (a payout is never
paid twice, even when two retries race: the key is unique in the database).

Why threads: the port is async (the http adapter does network I/O), while kefu's database
layer is synchronous SQLAlchemy. Rather than a second, async database stack, the adapter owns
a sessionmaker and runs each operation as one short transaction in a worker thread
(`anyio.to_thread.run_sync`), so the event loop never blocks on the database and each call
commits (or rolls back) on its own, like a remote exchange would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from pydantic import BaseModel
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.clock import utcnow
from kefu.core.db import session_factory
from kefu.exchange.demo_tiers import tier_table
from kefu.exchange.errors import (
    AccountFrozen,
    ExchangeIdempotencyConflict,
    ExchangeInvalidRequest,
    InsufficientBalance,
    UnknownAccount,
    UnknownRecord,
    WithdrawalLocked,
)
from kefu.exchange.models import (
    DemoAccount,
    DemoApiKey,
    DemoBalance,
    DemoCandle,
    DemoControl,
    DemoDepositAddress,
    DemoIncident,
    DemoLiquidation,
    DemoLogin,
    DemoPayout,
    DemoPosition,
    DemoSession,
    DemoTransfer,
)
from kefu.exchange.port import (
    Account,
    AccountStatus,
    ApiKey,
    Balance,
    Candle,
    CandleInterval,
    CandleKind,
    DepositAddress,
    FreezeResult,
    FreezeScope,
    Incident,
    KycState,
    Liquidation,
    LoginEvent,
    MaintenanceTier,
    PasswordReset,
    Payout,
    Position,
    Transfer,
    TransferStatus,
    WithdrawalRequest,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# What the simulated exchange charges and requires per asset.
WITHDRAWAL_FEES = {"BTC": Decimal("0.0002"), "ETH": Decimal("0.0015"), "USDT": Decimal("1")}
CONFIRMATIONS = {"BTC": 2, "ETH": 64, "USDT": 64}
# The lock an exchange usually puts on withdrawals after a password reset.
RESET_WITHDRAWAL_LOCK = timedelta(hours=24)
MAX_CANDLES = 5000
_ASSET = re.compile(r"^[A-Z0-9]{2,12}$")
_SPECIFIC_SCOPES = frozenset(FreezeScope) - {FreezeScope.ALL}


def check_asset(asset: str) -> str:
    if not _ASSET.fullmatch(asset):
        raise ExchangeInvalidRequest(detail=f"asset {asset!r}")
    return asset


def effective_scopes(scopes: set[str] | frozenset[str] | list[str]) -> frozenset[FreezeScope]:
    """`all` stands for every specific scope."""
    expanded = {FreezeScope(s) for s in scopes}
    return _SPECIFIC_SCOPES if FreezeScope.ALL in expanded else frozenset(expanded)


def _stored_scopes(scopes: frozenset[FreezeScope]) -> list[str]:
    if scopes >= _SPECIFIC_SCOPES:
        return [FreezeScope.ALL.value]
    return sorted(s.value for s in scopes)


class DemoExchange:
    """The port over the `exchange_demo_*` tables of `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)

    # --- plumbing ---------------------------------------------------------------------------

    async def _run(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(partial(self._transaction, work))

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            try:
                result = work(session)
                session.commit()
                return result
            except BaseException:
                session.rollback()
                raise

    async def _control(
        self,
        operation: str,
        external_id: str,
        request: dict[str, Any],
        key: str,
        result_type: type[M],
        act: Callable[[Session], M],
    ) -> M:
        """Run `act` once per idempotency key; replay its first result for retries."""
        if not key or len(key) > 255:
            raise ExchangeInvalidRequest(detail="idempotency key")
        digest = hashlib.sha256(
            json.dumps(
                {"operation": operation, "account": external_id, **request},
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()

        def attempt(session: Session) -> M:
            done = session.scalar(select(DemoControl).where(DemoControl.idempotency_key == key))
            if done is not None:
                if done.request_hash != digest:
                    raise ExchangeIdempotencyConflict()
                return result_type.model_validate(done.response)
            result = act(session)
            session.add(
                DemoControl(
                    idempotency_key=key,
                    operation=operation,
                    external_id=external_id,
                    request_hash=digest,
                    response=result.model_dump(mode="json"),
                )
            )
            session.flush()
            return result

        try:
            return await self._run(attempt)
        except IntegrityError:
            # A concurrent retry with the same key won the race: replay what it recorded.
            return await self._run(attempt)

    @staticmethod
    def _account(session: Session, external_id: str, *, lock: bool = False) -> DemoAccount:
        stmt = select(DemoAccount).where(DemoAccount.external_id == external_id)
        if lock:
            stmt = stmt.with_for_update()
        account = session.scalar(stmt)
        if account is None:
            raise UnknownAccount(account=external_id)
        return account

    # --- reads ------------------------------------------------------------------------------

    async def get_account(self, external_id: str) -> Account:
        return await self._run(lambda s: account_out(self._account(s, external_id)))

    async def get_kyc(self, external_id: str) -> KycState:
        def read(session: Session) -> KycState:
            a = self._account(session, external_id)
            return KycState(
                level=a.kyc_level,
                stage=a.kyc_stage,
                submitted_at=a.kyc_submitted_at,
                expected_by=a.kyc_expected_by,
            )

        return await self._run(read)

    async def list_balances(self, external_id: str) -> list[Balance]:
        def read(session: Session) -> list[Balance]:
            self._account(session, external_id)
            rows = session.scalars(
                select(DemoBalance)
                .where(DemoBalance.external_id == external_id)
                .order_by(DemoBalance.asset)
            )
            return [Balance(asset=b.asset, available=b.available, locked=b.locked) for b in rows]

        return await self._run(read)

    async def list_deposit_addresses(self, external_id: str) -> list[DepositAddress]:
        def read(session: Session) -> list[DepositAddress]:
            self._account(session, external_id)
            rows = session.scalars(
                select(DemoDepositAddress)
                .where(DemoDepositAddress.external_id == external_id)
                .order_by(DemoDepositAddress.asset, DemoDepositAddress.chain)
            )
            return [
                DepositAddress(asset=r.asset, chain=r.chain, address=r.address, memo=r.memo)
                for r in rows
            ]

        return await self._run(read)

    async def _transfers(
        self, direction: str, external_id: str, since: datetime | None, asset: str | None
    ) -> list[Transfer]:
        def read(session: Session) -> list[Transfer]:
            self._account(session, external_id)
            stmt = select(DemoTransfer).where(
                DemoTransfer.external_id == external_id, DemoTransfer.direction == direction
            )
            if since is not None:
                stmt = stmt.where(DemoTransfer.created_at >= since)
            if asset is not None:
                stmt = stmt.where(DemoTransfer.asset == check_asset(asset))
            rows = session.scalars(stmt.order_by(DemoTransfer.created_at.desc()))
            return [transfer_out(t) for t in rows]

        return await self._run(read)

    async def list_deposits(
        self, external_id: str, *, since: datetime | None = None, asset: str | None = None
    ) -> list[Transfer]:
        return await self._transfers("deposit", external_id, since, asset)

    async def list_withdrawals(
        self, external_id: str, *, since: datetime | None = None, asset: str | None = None
    ) -> list[Transfer]:
        return await self._transfers("withdrawal", external_id, since, asset)

    async def list_positions(self, external_id: str) -> list[Position]:
        def read(session: Session) -> list[Position]:
            self._account(session, external_id)
            rows = session.scalars(
                select(DemoPosition)
                .where(DemoPosition.external_id == external_id)
                .order_by(DemoPosition.opened_at.desc())
            )
            return [position_out(p) for p in rows]

        return await self._run(read)

    async def list_liquidations(
        self, external_id: str, *, since: datetime | None = None
    ) -> list[Liquidation]:
        def read(session: Session) -> list[Liquidation]:
            self._account(session, external_id)
            stmt = select(DemoLiquidation, DemoPosition).join(
                DemoPosition, DemoPosition.id == DemoLiquidation.position_id
            )
            stmt = stmt.where(DemoLiquidation.external_id == external_id)
            if since is not None:
                stmt = stmt.where(DemoLiquidation.triggered_at >= since)
            rows = session.execute(stmt.order_by(DemoLiquidation.triggered_at.desc()))
            return [liquidation_out(liq, pos) for liq, pos in rows]

        return await self._run(read)

    async def get_liquidation(self, liquidation_id: str) -> Liquidation:
        def read(session: Session) -> Liquidation:
            row = session.execute(
                select(DemoLiquidation, DemoPosition)
                .join(DemoPosition, DemoPosition.id == DemoLiquidation.position_id)
                .where(DemoLiquidation.id == liquidation_id)
            ).first()
            if row is None:
                raise UnknownRecord()
            return liquidation_out(row[0], row[1])

        return await self._run(read)

    async def list_candles(
        self,
        symbol: str,
        kind: CandleKind,
        interval: CandleInterval,
        start: datetime,
        end: datetime,
    ) -> list[Candle]:
        check_range(interval, start, end)
        step = timedelta(minutes=interval.minutes)
        epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
        first = epoch + ((start - epoch) // step) * step

        def read(session: Session) -> list[Candle]:
            rows = session.scalars(
                select(DemoCandle)
                .where(
                    DemoCandle.symbol == symbol,
                    DemoCandle.kind == kind.value,
                    DemoCandle.open_time >= first,
                    DemoCandle.open_time < end,
                )
                .order_by(DemoCandle.open_time)
            )
            return aggregate(list(rows), symbol, kind, interval)

        return await self._run(read)

    async def list_incidents(self, start: datetime, end: datetime) -> list[Incident]:
        if end <= start:
            raise ExchangeInvalidRequest(detail="end must be after start")

        def read(session: Session) -> list[Incident]:
            rows = session.scalars(
                select(DemoIncident)
                .where(
                    DemoIncident.started_at < end,
                    (DemoIncident.ended_at.is_(None)) | (DemoIncident.ended_at > start),
                )
                .order_by(DemoIncident.started_at)
            )
            return [
                Incident(
                    id=i.id,
                    component=i.component,
                    severity=i.severity,
                    title=i.title,
                    description=i.description,
                    started_at=i.started_at,
                    ended_at=i.ended_at,
                )
                for i in rows
            ]

        return await self._run(read)

    async def list_logins(
        self, external_id: str, *, since: datetime | None = None
    ) -> list[LoginEvent]:
        def read(session: Session) -> list[LoginEvent]:
            self._account(session, external_id)
            stmt = select(DemoLogin).where(DemoLogin.external_id == external_id)
            if since is not None:
                stmt = stmt.where(DemoLogin.at >= since)
            rows = session.scalars(stmt.order_by(DemoLogin.at.desc()))
            return [
                LoginEvent(
                    at=r.at,
                    ip=r.ip,
                    device=r.device,
                    country=r.country,
                    result=r.result,
                )
                for r in rows
            ]

        return await self._run(read)

    async def list_api_keys(self, external_id: str) -> list[ApiKey]:
        def read(session: Session) -> list[ApiKey]:
            self._account(session, external_id)
            rows = session.scalars(
                select(DemoApiKey)
                .where(DemoApiKey.external_id == external_id)
                .order_by(DemoApiKey.created_at)
            )
            return [
                ApiKey(
                    id=k.id,
                    label=k.label,
                    permissions=k.permissions,
                    created_at=k.created_at,
                    last_used_at=k.last_used_at,
                    revoked_at=k.revoked_at,
                )
                for k in rows
            ]

        return await self._run(read)

    # --- controls ---------------------------------------------------------------------------

    async def freeze(
        self,
        external_id: str,
        scopes: frozenset[FreezeScope],
        reason: str,
        idempotency_key: str,
    ) -> FreezeResult:
        if not scopes:
            raise ExchangeInvalidRequest(detail="at least one scope")
        wanted = effective_scopes(scopes)

        def act(session: Session) -> FreezeResult:
            account = self._account(session, external_id, lock=True)
            now = utcnow()
            frozen = effective_scopes(account.frozen_scopes) | wanted
            account.frozen_scopes = _stored_scopes(frozen)
            account.status = AccountStatus.FROZEN
            sessions = keys = 0
            if FreezeScope.SESSIONS in wanted:
                sessions = _rowcount(
                    session.execute(
                        update(DemoSession)
                        .where(
                            DemoSession.external_id == external_id, DemoSession.revoked_at.is_(None)
                        )
                        .values(revoked_at=now)
                    )
                )
            if FreezeScope.API_KEYS in wanted:
                keys = _rowcount(
                    session.execute(
                        update(DemoApiKey)
                        .where(
                            DemoApiKey.external_id == external_id, DemoApiKey.revoked_at.is_(None)
                        )
                        .values(revoked_at=now)
                    )
                )
            session.flush()
            return FreezeResult(
                account=account_out(account), sessions_revoked=sessions, api_keys_revoked=keys
            )

        request = {"scopes": sorted(scopes), "reason": reason}
        return await self._control(
            "freeze", external_id, request, idempotency_key, FreezeResult, act
        )

    async def unfreeze(
        self,
        external_id: str,
        scopes: frozenset[FreezeScope],
        reason: str,
        idempotency_key: str,
    ) -> Account:
        if not scopes:
            raise ExchangeInvalidRequest(detail="at least one scope")
        lifted = effective_scopes(scopes)

        def act(session: Session) -> Account:
            account = self._account(session, external_id, lock=True)
            remaining = effective_scopes(account.frozen_scopes) - lifted
            account.frozen_scopes = _stored_scopes(remaining)
            account.status = AccountStatus.FROZEN if remaining else AccountStatus.ACTIVE
            session.flush()
            return account_out(account)

        request = {"scopes": sorted(scopes), "reason": reason}
        return await self._control("unfreeze", external_id, request, idempotency_key, Account, act)

    async def trigger_password_reset(
        self, external_id: str, reason: str, idempotency_key: str
    ) -> PasswordReset:
        """Signs the user out everywhere and locks withdrawals for a day, as exchanges do."""

        def act(session: Session) -> PasswordReset:
            account = self._account(session, external_id, lock=True)
            now = utcnow()
            session.execute(
                update(DemoSession)
                .where(DemoSession.external_id == external_id, DemoSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            until = now + RESET_WITHDRAWAL_LOCK
            current = account.withdrawals_locked_until
            account.withdrawals_locked_until = max(until, current) if current else until
            session.flush()
            return PasswordReset(
                id=idempotency_key_id(idempotency_key),
                requested_at=now,
                withdrawals_locked_until=account.withdrawals_locked_until,
            )

        return await self._control(
            "password_reset",
            external_id,
            {"reason": reason},
            idempotency_key,
            PasswordReset,
            act,
        )

    async def lock_withdrawals(
        self, external_id: str, hours: int, reason: str, idempotency_key: str
    ) -> Account:
        if not 1 <= hours <= 24 * 90:
            raise ExchangeInvalidRequest(detail="hours must be between 1 and 2160")

        def act(session: Session) -> Account:
            account = self._account(session, external_id, lock=True)
            until = utcnow() + timedelta(hours=hours)
            current = account.withdrawals_locked_until
            account.withdrawals_locked_until = max(until, current) if current else until
            session.flush()
            return account_out(account)

        return await self._control(
            "withdrawal_lock",
            external_id,
            {"hours": hours, "reason": reason},
            idempotency_key,
            Account,
            act,
        )

    async def request_payout(
        self, external_id: str, asset: str, amount: Decimal, reason: str, idempotency_key: str
    ) -> Payout:
        check_asset(asset)
        if not amount.is_finite() or amount <= 0:
            raise ExchangeInvalidRequest(detail="amount must be positive")

        def act(session: Session) -> Payout:
            self._account(session, external_id, lock=True)
            now = utcnow()
            payout = DemoPayout(
                external_id=external_id,
                asset=asset,
                amount=amount,
                reason=reason,
                status="completed",
                created_at=now,
            )
            session.add(payout)
            balance = session.scalar(
                select(DemoBalance)
                .where(DemoBalance.external_id == external_id, DemoBalance.asset == asset)
                .with_for_update()
            )
            if balance is None:
                session.add(
                    DemoBalance(
                        external_id=external_id, asset=asset, available=amount, locked=Decimal(0)
                    )
                )
            else:
                balance.available = balance.available + amount
            session.flush()
            return Payout(
                id=payout.id,
                external_id=external_id,
                asset=asset,
                amount=amount,
                reason=reason,
                status=payout.status,
                created_at=now,
            )

        request = {"asset": asset, "amount": format(amount.normalize(), "f"), "reason": reason}
        return await self._control("payout", external_id, request, idempotency_key, Payout, act)

    # --- the customer's side (simulation) -----------------------------------------------------

    async def request_withdrawal(self, external_id: str, request: WithdrawalRequest) -> Transfer:
        """The account's owner asks to withdraw: refused when frozen, locked or underfunded."""
        check_asset(request.asset)

        def act(session: Session) -> Transfer:
            account = self._account(session, external_id, lock=True)
            frozen = effective_scopes(account.frozen_scopes)
            if FreezeScope.WITHDRAWALS in frozen:
                raise AccountFrozen(scopes=", ".join(account.frozen_scopes))
            now = utcnow()
            if account.withdrawals_locked_until and account.withdrawals_locked_until > now:
                raise WithdrawalLocked(until=account.withdrawals_locked_until.isoformat())
            fee = WITHDRAWAL_FEES.get(request.asset, Decimal("0.001"))
            balance = session.scalar(
                select(DemoBalance)
                .where(DemoBalance.external_id == external_id, DemoBalance.asset == request.asset)
                .with_for_update()
            )
            if balance is None or balance.available < request.amount + fee:
                raise InsufficientBalance()
            balance.available -= request.amount + fee
            balance.locked += request.amount + fee
            transfer = DemoTransfer(
                external_id=external_id,
                direction="withdrawal",
                asset=request.asset,
                chain=request.chain,
                amount=request.amount,
                fee=fee,
                address=request.address,
                tx_hash=None,
                status=TransferStatus.PENDING,
                confirmations=0,
                confirmations_required=CONFIRMATIONS.get(request.asset, 12),
                created_at=now,
            )
            session.add(transfer)
            session.flush()
            return transfer_out(transfer)

        return await self._run(act)


# --- conversions and checks shared with the seed and the reference server -------------------


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def idempotency_key_id(key: str) -> str:
    return "pr_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def account_out(a: DemoAccount) -> Account:
    return Account(
        external_id=a.external_id,
        status=a.status,
        frozen_scopes=a.frozen_scopes,
        jurisdiction=a.jurisdiction,
        withdrawals_locked_until=a.withdrawals_locked_until,
        created_at=a.created_at,
    )


def transfer_out(t: DemoTransfer) -> Transfer:
    return Transfer(
        id=t.id,
        asset=t.asset,
        chain=t.chain,
        amount=t.amount,
        fee=t.fee,
        address=t.address,
        tx_hash=t.tx_hash,
        status=t.status,
        confirmations=t.confirmations,
        confirmations_required=t.confirmations_required,
        created_at=t.created_at,
        completed_at=t.completed_at,
    )


def position_out(p: DemoPosition) -> Position:
    return Position(
        id=p.id,
        symbol=p.symbol,
        contract_type=p.contract_type,
        margin_mode=p.margin_mode,
        side=p.side,
        leverage=p.leverage,
        entry_price=p.entry_price,
        size=p.size,
        contract_size=p.contract_size,
        margin=p.margin,
        margin_asset=p.margin_asset,
        maintenance=MaintenanceTier(
            tier=p.mm_tier,
            max_notional=p.mm_max_notional,
            maintenance_margin_rate=p.mm_rate,
            maintenance_amount=p.mm_amount,
        ),
        maintenance_tiers=[
            MaintenanceTier(
                tier=tier,
                max_notional=cap,
                maintenance_margin_rate=rate,
                maintenance_amount=amount,
            )
            for tier, cap, rate, amount in tier_table(p.symbol)
        ],
        opened_at=p.opened_at,
        closed_at=p.closed_at,
    )


def liquidation_out(liq: DemoLiquidation, pos: DemoPosition) -> Liquidation:
    return Liquidation(
        id=liq.id,
        position=position_out(pos),
        triggered_at=liq.triggered_at,
        trigger_price=liq.trigger_price,
        liquidation_price=liq.liquidation_price,
        mark_price=liq.mark_price,
        fee=liq.fee,
    )


def check_range(interval: CandleInterval, start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ExchangeInvalidRequest(detail="times need a timezone")
    if end <= start:
        raise ExchangeInvalidRequest(detail="end must be after start")
    if (end - start) / timedelta(minutes=interval.minutes) > MAX_CANDLES:
        raise ExchangeInvalidRequest(detail=f"at most {MAX_CANDLES} candles per request")


def aggregate(
    rows: list[DemoCandle], symbol: str, kind: CandleKind, interval: CandleInterval
) -> list[Candle]:
    """Fold one-minute candles (sorted by time) into `interval` buckets aligned to UTC."""
    step = timedelta(minutes=interval.minutes)
    out: list[Candle] = []
    bucket: list[DemoCandle] = []
    bucket_start: datetime | None = None
    epoch: datetime | None = None

    def flush() -> None:
        if bucket and bucket_start is not None:
            out.append(
                Candle(
                    symbol=symbol,
                    kind=kind,
                    interval=interval,
                    open_time=bucket_start,
                    open=bucket[0].open,
                    high=max(c.high for c in bucket),
                    low=min(c.low for c in bucket),
                    close=bucket[-1].close,
                    volume=sum((c.volume for c in bucket), Decimal(0)),
                )
            )

    for row in rows:
        if epoch is None:
            epoch = datetime(1970, 1, 1, tzinfo=row.open_time.tzinfo)
        start = epoch + ((row.open_time - epoch) // step) * step
        if start != bucket_start:
            flush()
            bucket, bucket_start = [], start
        bucket.append(row)
    flush()
    return out
