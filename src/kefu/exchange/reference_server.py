"""A reference implementation of the exchange REST contract (`contract/exchange-api.yaml`)
on top of the demo exchange.

Exchanges can read it (and run it: `kefu exchange serve-reference`) to see what the contract
means; kefu's own tests run the http adapter against it on loopback.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from kefu import __version__
from kefu.core.i18n import translate
from kefu.exchange import signing
from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.errors import ExchangeAuthFailed, ExchangeError, ExchangeInvalidRequest
from kefu.exchange.port import (
    Account,
    Amount,
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
    PasswordReset,
    Payout,
    Position,
    Transfer,
    UtcTime,
    WithdrawalRequest,
)

REASON = Field(min_length=1, max_length=500)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScopesRequest(_Body):
    scopes: list[FreezeScope] = Field(min_length=1)
    reason: str = REASON


class PasswordResetRequest(_Body):
    reason: str = REASON


class WithdrawalLockRequest(_Body):
    hours: int = Field(ge=1, le=2160)
    reason: str = REASON


class PayoutRequest(_Body):
    asset: str = Field(pattern=r"^[A-Z0-9]{2,12}$")
    amount: Amount = Field(gt=0)
    reason: str = REASON


class Problem(BaseModel):
    """The error body of every non-2xx response (RFC 9457 problem details plus `code`)."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    params: dict[str, str] | None = Field(
        default=None, description="values for the placeholders of the error's message"
    )


IdemKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)]
AccountId = Annotated[str, Field(min_length=1, max_length=64)]
Since = Annotated[UtcTime | None, Query()]


# kefu reports a refused credential as an upstream failure (502); on the wire it is a 401.
WIRE_STATUS = {ExchangeAuthFailed.code: 401}


def problem_response(error: ExchangeError) -> JSONResponse:
    status = WIRE_STATUS.get(error.code, error.status)
    body = Problem(
        type=f"https://kefu.dev/problems/{error.code.replace('_', '-')}",
        title=translate(error.message, "en", **error.params),
        status=status,
        code=error.code,
        detail=str(error.params["detail"]) if "detail" in error.params else None,
        params={k: str(v) for k, v in error.params.items()} or None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type="application/problem+json",
    )


def create_reference_app(engine: Engine, *, key_id: str, secret: str) -> FastAPI:
    """The contract over the demo exchange in `engine`, accepting requests signed with
    (`key_id`, `secret`)."""
    exchange = DemoExchange(engine)

    async def authenticate(request: Request) -> None:
        body = await request.body()
        # Exactly as sent: the raw (still percent-encoded) path and query string.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        target = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
        ok = request.headers.get(signing.KEY_HEADER) == key_id and signing.verify(
            secret,
            timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
            method=request.method,
            target=target,
            body=body,
            given=request.headers.get(signing.SIGNATURE_HEADER),
            now=time.time(),
        )
        if not ok:
            raise ExchangeAuthFailed()

    router = APIRouter(prefix="/v1", dependencies=[Depends(authenticate)])

    @router.get("/accounts/{external_id}", response_model=Account)
    async def get_account(external_id: AccountId) -> Account:
        return await exchange.get_account(external_id)

    @router.get("/accounts/{external_id}/kyc", response_model=KycState)
    async def get_kyc(external_id: AccountId) -> KycState:
        return await exchange.get_kyc(external_id)

    @router.get("/accounts/{external_id}/balances", response_model=list[Balance])
    async def balances(external_id: AccountId) -> list[Balance]:
        return await exchange.list_balances(external_id)

    @router.get("/accounts/{external_id}/deposit-addresses", response_model=list[DepositAddress])
    async def deposit_addresses(external_id: AccountId) -> list[DepositAddress]:
        return await exchange.list_deposit_addresses(external_id)

    @router.get("/accounts/{external_id}/deposits", response_model=list[Transfer])
    async def deposits(
        external_id: AccountId, since: Since = None, asset: str | None = None
    ) -> list[Transfer]:
        return await exchange.list_deposits(external_id, since=since, asset=asset)

    @router.get("/accounts/{external_id}/withdrawals", response_model=list[Transfer])
    async def withdrawals(
        external_id: AccountId, since: Since = None, asset: str | None = None
    ) -> list[Transfer]:
        return await exchange.list_withdrawals(external_id, since=since, asset=asset)

    @router.post(
        "/accounts/{external_id}/withdrawals",
        response_model=Transfer,
        status_code=201,
        summary="The owner's own withdrawal (conformance tests only; kefu never calls it)",
    )
    async def request_withdrawal(external_id: AccountId, body: WithdrawalRequest) -> Transfer:
        return await exchange.request_withdrawal(external_id, body)

    @router.get("/accounts/{external_id}/positions", response_model=list[Position])
    async def positions(external_id: AccountId) -> list[Position]:
        return await exchange.list_positions(external_id)

    @router.get("/accounts/{external_id}/liquidations", response_model=list[Liquidation])
    async def liquidations(external_id: AccountId, since: Since = None) -> list[Liquidation]:
        return await exchange.list_liquidations(external_id, since=since)

    @router.get("/liquidations/{liquidation_id}", response_model=Liquidation)
    async def liquidation(liquidation_id: str) -> Liquidation:
        return await exchange.get_liquidation(liquidation_id)

    @router.get("/accounts/{external_id}/logins", response_model=list[LoginEvent])
    async def logins(external_id: AccountId, since: Since = None) -> list[LoginEvent]:
        return await exchange.list_logins(external_id, since=since)

    @router.get("/accounts/{external_id}/api-keys", response_model=list[ApiKey])
    async def api_keys(external_id: AccountId) -> list[ApiKey]:
        return await exchange.list_api_keys(external_id)

    @router.get("/candles", response_model=list[Candle])
    async def candles(
        symbol: Annotated[str, Query(min_length=1, max_length=32)],
        kind: CandleKind,
        interval: CandleInterval,
        start: Annotated[UtcTime, Query()],
        end: Annotated[UtcTime, Query()],
    ) -> list[Candle]:
        return await exchange.list_candles(symbol, kind, interval, start, end)

    @router.get("/incidents", response_model=list[Incident])
    async def incidents(
        start: Annotated[UtcTime, Query()], end: Annotated[UtcTime, Query()]
    ) -> list[Incident]:
        return await exchange.list_incidents(start, end)

    @router.post("/accounts/{external_id}/freeze", response_model=FreezeResult)
    async def freeze(
        external_id: AccountId, body: ScopesRequest, idempotency_key: IdemKey
    ) -> FreezeResult:
        return await exchange.freeze(
            external_id, frozenset(body.scopes), body.reason, idempotency_key
        )

    @router.post("/accounts/{external_id}/unfreeze", response_model=Account)
    async def unfreeze(
        external_id: AccountId, body: ScopesRequest, idempotency_key: IdemKey
    ) -> Account:
        return await exchange.unfreeze(
            external_id, frozenset(body.scopes), body.reason, idempotency_key
        )

    @router.post("/accounts/{external_id}/password-reset", response_model=PasswordReset)
    async def password_reset(
        external_id: AccountId, body: PasswordResetRequest, idempotency_key: IdemKey
    ) -> PasswordReset:
        return await exchange.trigger_password_reset(external_id, body.reason, idempotency_key)

    @router.post("/accounts/{external_id}/withdrawal-lock", response_model=Account)
    async def withdrawal_lock(
        external_id: AccountId, body: WithdrawalLockRequest, idempotency_key: IdemKey
    ) -> Account:
        return await exchange.lock_withdrawals(
            external_id, body.hours, body.reason, idempotency_key
        )

    @router.post("/accounts/{external_id}/payouts", response_model=Payout)
    async def payout(
        external_id: AccountId, body: PayoutRequest, idempotency_key: IdemKey
    ) -> Payout:
        return await exchange.request_payout(
            external_id, body.asset, Decimal(body.amount), body.reason, idempotency_key
        )

    app = FastAPI(
        title="kefu exchange contract — reference server",
        version=__version__,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(router)

    async def on_exchange_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ExchangeError)
        return problem_response(exc)

    async def on_invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem_response(ExchangeInvalidRequest(detail=f"{where}: {first.get('msg', '')}"))

    app.add_exception_handler(ExchangeError, on_exchange_error)
    app.add_exception_handler(RequestValidationError, on_invalid)

    @app.middleware("http")
    async def no_store(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
