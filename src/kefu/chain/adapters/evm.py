"""EVM JSON-RPC (Ethereum and compatible chains): native transfers, ERC-20 `Transfer` logs
with the token's decimals and symbol read from the contract, receipts' success or revert."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kefu.chain.adapters import BackendError, ChainTransaction, Transfer, TxState
from kefu.chain.adapters.http import RetryingHttp

# keccak256("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_DECIMALS = "0x313ce567"  # decimals()
_SYMBOL = "0x95d89b41"  # symbol()
WEI_PER_ETH = Decimal(10) ** 18


class EvmRpcError(BackendError):
    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__("bad_response", f"RPC error {code}: {message}")


def _int(value: Any) -> int:
    return int(str(value), 16)


def _address_from_topic(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def _abi_string(data: str) -> str | None:
    raw = bytes.fromhex(data.removeprefix("0x"))
    if len(raw) >= 64:
        offset = int.from_bytes(raw[:32], "big")
        if offset + 32 <= len(raw):
            length = int.from_bytes(raw[offset : offset + 32], "big")
            text = raw[offset + 32 : offset + 32 + length]
            if len(text) == length:
                return text.decode("utf-8", "replace")
    if len(raw) == 32:  # some old tokens return bytes32
        return raw.rstrip(b"\0").decode("utf-8", "replace") or None
    return None


class EvmBackend:
    def __init__(self, http: RetryingHttp, *, asset: str = "ETH") -> None:
        self.http = http
        self.asset = asset
        self._ids = 0
        self._tokens: dict[str, tuple[int, str]] = {}

    def call(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": list(params)}
        data = self.http.request("POST", "", json=body).json()
        if not isinstance(data, dict):
            raise BackendError("bad_response", "not a JSON-RPC response")
        if data.get("error"):
            error = data["error"]
            raise EvmRpcError(int(error.get("code", 0)), str(error.get("message", "")))
        return data.get("result")

    def tip_height(self) -> int:
        return _int(self.call("eth_blockNumber"))

    def token_info(self, contract: str) -> tuple[int, str]:
        """(decimals, symbol) of an ERC-20 contract, remembered per contract."""
        contract = contract.lower()
        if contract not in self._tokens:
            decimals, symbol = 18, contract
            try:
                raw = self.call("eth_call", {"to": contract, "data": _DECIMALS}, "latest")
                if raw and raw != "0x":
                    decimals = min(_int(raw), 77)
                raw = self.call("eth_call", {"to": contract, "data": _SYMBOL}, "latest")
                if raw and raw != "0x":
                    symbol = _abi_string(raw) or contract
            except EvmRpcError:
                pass  # not an ERC-20 with metadata: raw units under the contract address
            self._tokens[contract] = (decimals, symbol)
        return self._tokens[contract]

    def get_transaction(self, txid: str) -> ChainTransaction | None:
        tx = self.call("eth_getTransactionByHash", txid)
        if tx is None:
            return None
        try:
            return self._parse(tx)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError("bad_response", str(exc)) from exc

    def _parse(self, tx: dict[str, Any]) -> ChainTransaction:
        sender = str(tx["from"]).lower()
        transfers: list[Transfer] = []
        value = _int(tx.get("value") or "0x0")
        if value and tx.get("to"):
            transfers.append(
                Transfer(
                    index=0,
                    to_address=str(tx["to"]).lower(),
                    amount=Decimal(value) / WEI_PER_ETH,
                    asset=self.asset,
                    from_address=sender,
                    kind="native",
                )
            )
        if tx.get("blockNumber") is None:
            return ChainTransaction(
                txid=tx["hash"],
                state=TxState.PENDING,
                fee_asset=self.asset,
                transfers=tuple(transfers),
                inputs_from=(sender,),
            )
        receipt = self.call("eth_getTransactionReceipt", tx["hash"])
        if receipt is None:  # mined but the node has not indexed the receipt yet
            return ChainTransaction(
                txid=tx["hash"], state=TxState.PENDING, fee_asset=self.asset, inputs_from=(sender,)
            )
        failed = _int(receipt.get("status") or "0x1") == 0
        if not failed:
            for log in receipt.get("logs") or []:
                topics = log.get("topics") or []
                # ERC-20 has two indexed arguments; ERC-721's Transfer has a third (the token id).
                if len(topics) == 3 and str(topics[0]).lower() == TRANSFER_TOPIC:
                    decimals, symbol = self.token_info(log["address"])
                    amount = Decimal(_int(log["data"] or "0x0")) / (Decimal(10) ** decimals)
                    transfers.append(
                        Transfer(
                            index=_int(log["logIndex"]),
                            to_address=_address_from_topic(topics[2]),
                            amount=amount,
                            asset=symbol,
                            from_address=_address_from_topic(topics[1]),
                            token_contract=str(log["address"]).lower(),
                            kind="token",
                        )
                    )
        gas_price = receipt.get("effectiveGasPrice") or tx.get("gasPrice") or "0x0"
        fee = Decimal(_int(receipt["gasUsed"]) * _int(gas_price)) / WEI_PER_ETH
        block = self.call("eth_getBlockByNumber", tx["blockNumber"], False) or {}
        block_time = (
            datetime.fromtimestamp(_int(block["timestamp"]), UTC)
            if block.get("timestamp")
            else None
        )
        return ChainTransaction(
            txid=tx["hash"],
            state=TxState.FAILED if failed else TxState.CONFIRMED,
            block_height=_int(tx["blockNumber"]),
            block_hash=tx.get("blockHash"),
            block_time=block_time,
            fee=fee,
            fee_asset=self.asset,
            transfers=() if failed else tuple(transfers),
            inputs_from=(sender,),
        )
