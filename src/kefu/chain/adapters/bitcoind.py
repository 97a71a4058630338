"""Bitcoin Core JSON-RPC (`getrawtransaction` verbose, `getblockcount`, `getblockheader`).

Amounts are BTC decimals in the JSON; they are read as `Decimal`, never as floats. Without
`-txindex` Core knows only mempool and wallet transactions; error -5 means "not known".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kefu.chain.adapters import BackendError, ChainTransaction, Transfer, TxState
from kefu.chain.adapters.http import RetryingHttp

RPC_INVALID_ADDRESS_OR_KEY = -5


class RpcError(BackendError):
    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__("bad_response", f"RPC error {code}: {message}")


class BitcoindBackend:
    def __init__(self, http: RetryingHttp, *, asset: str = "BTC") -> None:
        self.http = http
        self.asset = asset
        self._ids = 0

    def call(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body = {"jsonrpc": "1.0", "id": f"kefu-{self._ids}", "method": method, "params": params}
        # bitcoind answers RPC errors with HTTP 404/500 and a JSON body; both are read here.
        response = self.http.request("POST", "/", json=body, ok_statuses=frozenset({404, 500}))
        try:
            data = json.loads(response.text, parse_float=Decimal)
        except ValueError as exc:
            raise BackendError("bad_response", "not JSON") from exc
        error = data.get("error") if isinstance(data, dict) else None
        if error:
            raise RpcError(int(error.get("code", 0)), str(error.get("message", "")))
        if not isinstance(data, dict) or "result" not in data:
            raise BackendError("bad_response", "no result")
        return data["result"]

    def tip_height(self) -> int:
        return int(self.call("getblockcount"))

    def get_transaction(self, txid: str) -> ChainTransaction | None:
        try:
            data = self.call("getrawtransaction", txid, True)
        except RpcError as exc:
            if exc.code == RPC_INVALID_ADDRESS_OR_KEY:
                return None
            raise
        try:
            return self._parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError("bad_response", str(exc)) from exc

    def _parse(self, data: dict[str, Any]) -> ChainTransaction:
        transfers = tuple(
            Transfer(
                index=int(out["n"]),
                to_address=out["scriptPubKey"].get("address")
                or next(iter(out["scriptPubKey"].get("addresses") or []), None),
                amount=Decimal(out["value"]),
                asset=self.asset,
            )
            for out in data["vout"]
        )
        confirmed = int(data.get("confirmations") or 0) > 0 and data.get("blockhash")
        height = None
        if confirmed:
            header = self.call("getblockheader", data["blockhash"])
            height = int(header["height"])
        fee = data.get("fee")
        return ChainTransaction(
            txid=data["txid"],
            state=TxState.CONFIRMED if confirmed else TxState.PENDING,
            block_height=height,
            block_hash=data.get("blockhash") if confirmed else None,
            block_time=datetime.fromtimestamp(int(data["blocktime"]), UTC)
            if confirmed and data.get("blocktime")
            else None,
            fee=Decimal(fee) if fee is not None else None,
            fee_asset=self.asset,
            transfers=transfers,
        )
