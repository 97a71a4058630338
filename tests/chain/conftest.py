"""A real local Ethereum node for the EVM tests: anvil, installed from the npm registry by
scripts/install-system-deps.sh into tools/evm. Missing anvil fails the tests (never skips)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.chain import service
from kefu.testing.net import free_port

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "tools/evm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


class Anvil:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=10)
        self._id = 0

    def rpc(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
        data = self.client.post(self.url, json=body).json()
        if "error" in data:
            raise RuntimeError(json.dumps(data["error"]))
        return data["result"]

    def send(self, *, wait: bool = True, **tx: Any) -> str:
        """Send from an unlocked dev account; with `wait`, return once it is mined (automine
        answers before the block is sealed when the machine is busy)."""
        txhash = str(self.rpc("eth_sendTransaction", tx))
        if wait:
            self.receipt(txhash)
        return txhash

    def receipt(self, txhash: str, timeout: float = 30.0) -> dict[str, Any]:
        """The mined transaction's receipt, waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", txhash)
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"anvil mined no receipt for {txhash} in {timeout} s")
            time.sleep(0.05)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    binary = Path(os.environ.get("KEFU_ANVIL", ANVIL))
    if not binary.exists():
        pytest.fail(
            f"anvil is missing at {binary}: run scripts/install-system-deps.sh "
            "(npm install of @foundry-rs/anvil into tools/evm)"
        )
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--host", "127.0.0.1", "--silent", "--accounts", "5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    node = Anvil(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                node.rpc("eth_blockNumber")
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"anvil did not start: {err}")
                time.sleep(0.1)
        yield node
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        node.client.close()


@pytest.fixture(autouse=True)
def _fresh_chain_cache() -> Iterator[None]:
    service.tx_cache.clear()
    yield
    service.tx_cache.clear()
