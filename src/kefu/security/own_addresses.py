"""The chain module's privacy rule (invariant 4) wired to the exchange: a customer's own
addresses are their deposit addresses at the exchange, read through the port.

Withdrawal destinations are deliberately not "own": after a compromise they are often the
thief's, and the exchange's records about them must not be shown as the customer's.

The chain module calls `is_own` / `account_records` synchronously from worker threads; the
port is async. Each lookup runs the port call on the application's event loop
(`run_port`), results are cached per customer for a short while under a lock, and any
exchange failure counts as "not own" — the customer then sees only public chain data,
which is the safe side of the rule.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from kefu.chain.service import _fold
from kefu.exchange.errors import ExchangeError
from kefu.exchange.port import DepositAddress, Exchange
from kefu.exchange.service import run_port


class ExchangeOwnAddresses:
    def __init__(
        self,
        exchange: Exchange,
        *,
        chain_names: dict[str, str] | None = None,
        ttl_seconds: float = 60.0,
    ) -> None:
        self._exchange = exchange
        self._chain_names = {k.upper(): v for k, v in (chain_names or {}).items()}
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, list[DepositAddress]]] = {}
        self._lock = threading.Lock()

    def _addresses(self, external_id: str) -> list[DepositAddress]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(external_id)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        try:
            addresses = run_port(self._exchange.list_deposit_addresses, external_id)
        except (ExchangeError, RuntimeError, SQLAlchemyError):
            # Unknown or unreachable (or called on the event loop itself): not own.
            return []
        with self._lock:
            self._cache[external_id] = (now, addresses)
            if len(self._cache) > 10_000:
                self._cache.pop(next(iter(self._cache)))
        return addresses

    def _same_chain(self, chain: str, exchange_chain: str) -> bool:
        return chain.lower() in (
            exchange_chain.lower(),
            self._chain_names.get(exchange_chain.upper(), "").lower(),
        )

    def _matches(self, external_id: str, chain: str, address: str) -> list[DepositAddress]:
        wanted = _fold(chain, address)
        return [
            a
            for a in self._addresses(external_id)
            if self._same_chain(chain, a.chain) and _fold(chain, a.address) == wanted
        ]

    def is_own(self, customer_external_id: str, chain: str, address: str) -> bool:
        return bool(self._matches(customer_external_id, chain, address))

    def account_records(
        self, customer_external_id: str, chain: str, address: str
    ) -> list[dict[str, Any]]:
        return [
            {"kind": "deposit_address", "asset": a.asset, "chain": a.chain, "memo": a.memo}
            for a in self._matches(customer_external_id, chain, address)
        ]

    def forget(self, customer_external_id: str) -> None:
        with self._lock:
            self._cache.pop(customer_external_id, None)
