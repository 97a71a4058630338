"""The port over the REST contract in `kefu/exchange/contract/exchange-api.yaml`.

Every request is signed (`kefu.exchange.signing`). Reads are retried with exponential backoff
on connection errors, 429 (honouring a short `Retry-After`) and 5xx answers; controls are
retried too, but only because each carries an `Idempotency-Key`, which makes a retry safe by
the contract (the exchange replays the first result). The simulated customer withdrawal is
never retried: it has no key. Error bodies (problem JSON with a `code`) become the port's
`ExchangeError` subclasses.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import anyio
import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from kefu.exchange import signing
from kefu.exchange.errors import (
    ERRORS_BY_CODE,
    ExchangeAuthFailed,
    ExchangeError,
    ExchangeInvalidRequest,
    ExchangeUnavailable,
)
from kefu.exchange.port import (
    Account,
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
    WithdrawalRequest,
)

T = TypeVar("T")
# Worth another try for a call that is safe to repeat: overload and server-side failures.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 5.0


class HttpExchange:
    """An exchange reached over HTTPS. `transport` lets tests and proxies plug in."""

    def __init__(
        self,
        base_url: str,
        *,
        key_id: str,
        secret: str,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key_id = key_id
        self._secret = secret
        self._retries = retries
        self._backoff = backoff
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        # One pooled client per adapter, created lazily inside the running event loop.
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                base_url=self.base_url, timeout=self._timeout, transport=self._transport
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # --- plumbing ---------------------------------------------------------------------------

    def _signed_headers(self, method: str, request: httpx.Request) -> dict[str, str]:
        timestamp = str(int(time.time()))
        target = request.url.raw_path.decode("ascii")
        return {
            signing.KEY_HEADER: self._key_id,
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.signature(
                self._secret, timestamp, method, target, request.content
            ),
        }

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        retry: bool = True,
    ) -> Any:
        client = self._http()
        content = (
            json.dumps(body, separators=(",", ":"), default=str).encode()
            if body is not None
            else b""
        )
        attempts = self._retries + 1 if retry else 1
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                await anyio.sleep(self._backoff * 2 ** (attempt - 1))
            request = client.build_request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None} or None,
                content=content or None,
                headers={"Content-Type": "application/json"} if body is not None else None,
            )
            request.headers.update(self._signed_headers(method, request))
            if idempotency_key is not None:
                request.headers["Idempotency-Key"] = idempotency_key
            try:
                response = await client.send(request)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = exc
                continue
            if response.status_code in _RETRY_STATUSES and attempt + 1 < attempts:
                last = None
                await response.aclose()
                await anyio.sleep(_retry_after(response))
                continue
            return self._result(response)
        raise ExchangeUnavailable() from last

    @staticmethod
    def _result(response: httpx.Response) -> Any:
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise ExchangeError() from exc
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = {}
        if response.status_code == 401:
            raise ExchangeAuthFailed()
        error_type = ERRORS_BY_CODE.get(str(problem.get("code")))
        if error_type is None:
            raise ExchangeUnavailable() if response.status_code >= 500 else ExchangeError()
        raw = problem.get("params")
        params = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        try:
            error = error_type(**params)
        except (KeyError, TypeError, ValueError):
            # The exchange left out a placeholder the message needs: keep the class, not the text.
            error = error_type(ExchangeError.message)
        raise error

    @staticmethod
    def _parse(kind: Any, data: Any) -> Any:
        try:
            return TypeAdapter(kind).validate_python(data)
        except ValidationError as exc:
            # The exchange answered outside the contract: not the caller's fault.
            raise ExchangeError() from exc

    async def _get(self, result_type: Any, path: str, **params: Any) -> Any:
        query = {k: _param(v) for k, v in params.items() if v is not None}
        return self._parse(result_type, await self._call("GET", path, params=query))

    async def _control(
        self, kind: type[BaseModel], path: str, body: dict[str, Any], key: str
    ) -> Any:
        data = await self._call("POST", path, body=body, idempotency_key=key)
        return self._parse(kind, data)

    # --- reads ------------------------------------------------------------------------------

    async def get_account(self, external_id: str) -> Account:
        result: Account = await self._get(Account, _acct(external_id))
        return result

    async def get_kyc(self, external_id: str) -> KycState:
        result: KycState = await self._get(KycState, _acct(external_id, "kyc"))
        return result

    async def list_balances(self, external_id: str) -> list[Balance]:
        result: list[Balance] = await self._get(list[Balance], _acct(external_id, "balances"))
        return result

    async def list_deposit_addresses(self, external_id: str) -> list[DepositAddress]:
        result: list[DepositAddress] = await self._get(
            list[DepositAddress], _acct(external_id, "deposit-addresses")
        )
        return result

    async def list_deposits(
        self, external_id: str, *, since: datetime | None = None, asset: str | None = None
    ) -> list[Transfer]:
        result: list[Transfer] = await self._get(
            list[Transfer], _acct(external_id, "deposits"), since=since, asset=asset
        )
        return result

    async def list_withdrawals(
        self, external_id: str, *, since: datetime | None = None, asset: str | None = None
    ) -> list[Transfer]:
        result: list[Transfer] = await self._get(
            list[Transfer],
            _acct(external_id, "withdrawals"),
            since=since,
            asset=asset,
        )
        return result

    async def list_positions(self, external_id: str) -> list[Position]:
        result: list[Position] = await self._get(list[Position], _acct(external_id, "positions"))
        return result

    async def list_liquidations(
        self, external_id: str, *, since: datetime | None = None
    ) -> list[Liquidation]:
        result: list[Liquidation] = await self._get(
            list[Liquidation], _acct(external_id, "liquidations"), since=since
        )
        return result

    async def get_liquidation(self, liquidation_id: str) -> Liquidation:
        result: Liquidation = await self._get(
            Liquidation, f"/v1/liquidations/{_segment(liquidation_id)}"
        )
        return result

    async def list_candles(
        self,
        symbol: str,
        kind: CandleKind,
        interval: CandleInterval,
        start: datetime,
        end: datetime,
    ) -> list[Candle]:
        result: list[Candle] = await self._get(
            list[Candle],
            "/v1/candles",
            symbol=symbol,
            kind=kind.value,
            interval=interval.value,
            start=start,
            end=end,
        )
        return result

    async def list_incidents(self, start: datetime, end: datetime) -> list[Incident]:
        result: list[Incident] = await self._get(
            list[Incident], "/v1/incidents", start=start, end=end
        )
        return result

    async def list_logins(
        self, external_id: str, *, since: datetime | None = None
    ) -> list[LoginEvent]:
        result: list[LoginEvent] = await self._get(
            list[LoginEvent], _acct(external_id, "logins"), since=since
        )
        return result

    async def list_api_keys(self, external_id: str) -> list[ApiKey]:
        result: list[ApiKey] = await self._get(list[ApiKey], _acct(external_id, "api-keys"))
        return result

    # --- controls ---------------------------------------------------------------------------

    async def freeze(
        self,
        external_id: str,
        scopes: frozenset[FreezeScope],
        reason: str,
        idempotency_key: str,
    ) -> FreezeResult:
        body = {"scopes": sorted(s.value for s in scopes), "reason": reason}
        result: FreezeResult = await self._control(
            FreezeResult, _acct(external_id, "freeze"), body, idempotency_key
        )
        return result

    async def unfreeze(
        self,
        external_id: str,
        scopes: frozenset[FreezeScope],
        reason: str,
        idempotency_key: str,
    ) -> Account:
        body = {"scopes": sorted(s.value for s in scopes), "reason": reason}
        result: Account = await self._control(
            Account, _acct(external_id, "unfreeze"), body, idempotency_key
        )
        return result

    async def trigger_password_reset(
        self, external_id: str, reason: str, idempotency_key: str
    ) -> PasswordReset:
        result: PasswordReset = await self._control(
            PasswordReset,
            _acct(external_id, "password-reset"),
            {"reason": reason},
            idempotency_key,
        )
        return result

    async def lock_withdrawals(
        self, external_id: str, hours: int, reason: str, idempotency_key: str
    ) -> Account:
        result: Account = await self._control(
            Account,
            _acct(external_id, "withdrawal-lock"),
            {"hours": hours, "reason": reason},
            idempotency_key,
        )
        return result

    async def request_payout(
        self, external_id: str, asset: str, amount: Decimal, reason: str, idempotency_key: str
    ) -> Payout:
        body = {"asset": asset, "amount": format(amount, "f"), "reason": reason}
        result: Payout = await self._control(
            Payout, _acct(external_id, "payouts"), body, idempotency_key
        )
        return result

    async def request_withdrawal(self, external_id: str, request: WithdrawalRequest) -> Transfer:
        data = await self._call(
            "POST",
            _acct(external_id, "withdrawals"),
            body=request.model_dump(mode="json"),
            retry=False,
        )
        result: Transfer = self._parse(Transfer, data)
        return result


def _retry_after(response: httpx.Response) -> float:
    """Honour a `Retry-After` in seconds, up to a few seconds; the backoff adds the rest."""
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER) if value else 0.0
    except ValueError:
        return 0.0


def _segment(value: str) -> str:
    if not value or "/" in value or value in {".", ".."} or len(value) > 64:
        raise ExchangeInvalidRequest(detail="identifier")
    from urllib.parse import quote

    return quote(value, safe="")


def _acct(external_id: str, *rest: str) -> str:
    return "/".join(("/v1/accounts", _segment(external_id), *rest))


def _param(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
