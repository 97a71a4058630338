"""What only the http adapter does: signing, retries with backoff, and error mapping, against
the reference server on a real socket. Faults are injected in the transport: the request
reaches the real server, and then the answer is lost on the way back."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from kefu.exchange.errors import (
    ExchangeAuthFailed,
    ExchangeInvalidRequest,
    ExchangeUnavailable,
    UnknownAccount,
)
from kefu.exchange.port import FreezeScope, WithdrawalRequest
from kefu.testing.net import free_port
from tests.exchange.conftest import DEPOSIT_BTC, KEY_ID, Books, http_adapter

pytestmark = pytest.mark.anyio


class LosesAnswers(httpx.AsyncBaseTransport):
    """Forwards every request to the real server; replaces the first `lose` answers with a
    503, or with a dropped connection, as a flaky load balancer would."""

    def __init__(self, lose: int, how: str = "503") -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lose = lose
        self.how = how
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.sent += 1
        if self.sent <= self.lose:
            await response.aread()
            await response.aclose()
            if self.how == "drop":
                raise httpx.ReadError("connection reset", request=request)
            if self.how == "429":
                return httpx.Response(429, headers={"Retry-After": "0.05"}, request=request)
            return httpx.Response(503, json={"code": "exchange_unavailable"}, request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("how", ["503", "drop", "429"])
async def test_payout_retried_after_lost_answers_pays_once(
    reference_url: str, books: Books, how: str
) -> None:
    transport = LosesAnswers(lose=2, how=how)
    exchange = http_adapter(reference_url, transport=transport, retries=3)
    payout = await exchange.request_payout("acct-2", "BTC", Decimal("0.015"), "case 7", "pay-7")
    assert transport.sent == 3  # two answers lost, the third replayed the first payout
    assert payout.amount == Decimal("0.015")
    plain = http_adapter(reference_url)
    (btc,) = await plain.list_balances("acct-2")
    assert btc.available == Decimal("0.015")  # paid once, not three times
    again = await plain.request_payout("acct-2", "BTC", Decimal("0.015"), "case 7", "pay-7")
    assert again.id == payout.id
    await exchange.aclose()
    await plain.aclose()


async def test_reads_retry_then_give_up_as_unavailable(reference_url: str, books: Books) -> None:
    exchange = http_adapter(reference_url, transport=LosesAnswers(lose=1), retries=1)
    assert (await exchange.get_account("acct-1")).external_id == "acct-1"
    failing = http_adapter(reference_url, transport=LosesAnswers(lose=10), retries=2)
    with pytest.raises(ExchangeUnavailable) as caught:
        await failing.get_account("acct-1")
    assert caught.value.status == 503


async def test_customer_withdrawal_is_never_retried(reference_url: str, books: Books) -> None:
    """It carries no idempotency key, so a lost answer must not become a second withdrawal."""
    transport = LosesAnswers(lose=1)
    exchange = http_adapter(reference_url, transport=transport, retries=3)
    request = WithdrawalRequest(asset="BTC", chain="BTC", amount=Decimal("0.1"), address="bc1q")
    with pytest.raises(ExchangeUnavailable):
        await exchange.request_withdrawal("acct-1", request)
    assert transport.sent == 1
    (withdrawal, *_) = await http_adapter(reference_url).list_withdrawals("acct-1")
    assert withdrawal.amount == Decimal("0.1") and withdrawal.address == "bc1q"


async def test_nothing_listening_is_unavailable() -> None:
    port = free_port()
    exchange = http_adapter(f"http://127.0.0.1:{port}", retries=1)
    with pytest.raises(ExchangeUnavailable):
        await exchange.get_account("acct-1")


async def test_wrong_secret_is_an_auth_failure(reference_url: str, books: Books) -> None:
    from kefu.exchange.adapters.http import HttpExchange

    exchange = HttpExchange(reference_url, key_id=KEY_ID, secret="wrong", retries=0)
    with pytest.raises(ExchangeAuthFailed):
        await exchange.get_account("acct-1")


async def test_bad_identifiers_and_values_are_refused_before_sending(
    reference_url: str, books: Books
) -> None:
    exchange = http_adapter(reference_url)
    with pytest.raises(ExchangeInvalidRequest):
        await exchange.get_account("../v1/incidents")
    with pytest.raises(UnknownAccount) as caught:
        await exchange.get_account("acct 9")  # encoded, sent, and not found
    assert "acct 9" in str(caught.value)
    with pytest.raises(ExchangeInvalidRequest):
        await exchange.freeze("acct-1", frozenset({FreezeScope.ALL}), "", "k-empty-reason")
    assert DEPOSIT_BTC
