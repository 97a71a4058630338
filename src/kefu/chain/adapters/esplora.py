"""Esplora REST (Blockstream's explorer API, also served by mempool.space and electrs).

Amounts come in satoshis; `status` tells confirmed or not. The raw transaction, its merkle
proof and the block header can be fetched too, so a check need not trust the explorer: the
service re-derives the txid and verifies the inclusion proof itself (see `inclusion_proof`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kefu.chain import btc
from kefu.chain.adapters import BackendError, ChainTransaction, Transfer, TxState
from kefu.chain.adapters.http import RetryingHttp


@dataclass(frozen=True)
class InclusionProof:
    raw_tx: bytes
    header: bytes
    block_height: int
    merkle: list[str]
    pos: int


class EsploraBackend:
    def __init__(self, http: RetryingHttp, *, asset: str = "BTC", hrp: str = "bc") -> None:
        self.http = http
        self.asset = asset
        self.hrp = hrp

    def tip_height(self) -> int:
        text = self.http.request("GET", "/blocks/tip/height").text.strip()
        if not text.isdigit():
            raise BackendError("bad_response", "tip height is not a number")
        return int(text)

    def get_transaction(self, txid: str) -> ChainTransaction | None:
        response = self.http.request("GET", f"/tx/{txid}", ok_statuses=frozenset({404}))
        if response.status_code == 404:
            return None
        try:
            return self._parse(response.json())
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError("bad_response", str(exc)) from exc

    def _parse(self, data: dict[str, Any]) -> ChainTransaction:
        status = data["status"]
        sats = btc.SATS_PER_BTC
        transfers = tuple(
            Transfer(
                index=i,
                to_address=out.get("scriptpubkey_address")
                or btc.script_to_address(bytes.fromhex(out["scriptpubkey"]), self.hrp),
                amount=Decimal(int(out["value"])) / sats,
                asset=self.asset,
            )
            for i, out in enumerate(data["vout"])
        )
        senders = tuple(
            dict.fromkeys(
                vin["prevout"]["scriptpubkey_address"]
                for vin in data["vin"]
                if vin.get("prevout") and vin["prevout"].get("scriptpubkey_address")
            )
        )
        confirmed = bool(status["confirmed"])
        return ChainTransaction(
            txid=data["txid"],
            state=TxState.CONFIRMED if confirmed else TxState.PENDING,
            block_height=int(status["block_height"]) if confirmed else None,
            block_hash=status.get("block_hash") if confirmed else None,
            block_time=datetime.fromtimestamp(int(status["block_time"]), UTC)
            if confirmed
            else None,
            fee=Decimal(int(data["fee"])) / sats if data.get("fee") is not None else None,
            fee_asset=self.asset,
            transfers=transfers,
            inputs_from=senders,
        )

    def inclusion_proof(self, txid: str, block_hash: str) -> InclusionProof:
        """What an offline check needs: the raw transaction, its merkle branch and the header."""
        raw = self.http.request("GET", f"/tx/{txid}/hex").text.strip()
        proof = self.http.request("GET", f"/tx/{txid}/merkle-proof").json()
        header = self.http.request("GET", f"/block/{block_hash}/header").text.strip()
        try:
            return InclusionProof(
                raw_tx=bytes.fromhex(raw),
                header=bytes.fromhex(header),
                block_height=int(proof["block_height"]),
                merkle=[str(h) for h in proof["merkle"]],
                pos=int(proof["pos"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError("bad_response", str(exc)) from exc
