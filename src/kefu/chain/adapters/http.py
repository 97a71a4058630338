"""HTTP for backends: one timeout per request, retries with exponential backoff on network
errors, 5xx and 429 (honouring Retry-After, capped), and a clear `BackendError` at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from kefu.chain.adapters import BackendError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryingHttp:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        auth: tuple[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.client = httpx.Client(
            timeout=timeout, auth=auth, headers={"User-Agent": "kefu-chain/1"}
        )

    def request(
        self, method: str, path: str, *, json: Any = None, ok_statuses: frozenset[int] = frozenset()
    ) -> httpx.Response:
        """Returns the first 2xx response, or one whose status is in `ok_statuses` (e.g. 404
        meaning "unknown transaction"); raises BackendError when retries run out."""
        url = f"{self.base_url}{path}"
        last: BackendError | None = None
        for attempt in range(self.retries + 1):
            delay = min(self.max_backoff, self.backoff * (2**attempt))
            try:
                response = self.client.request(method, url, json=json)
            except httpx.TimeoutException as exc:
                last = BackendError("timeout", str(exc))
            except httpx.HTTPError as exc:
                last = BackendError("unreachable", str(exc))
            else:
                if response.is_success or response.status_code in ok_statuses:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise BackendError("bad_response", f"HTTP {response.status_code}")
                reason = "rate_limited" if response.status_code == 429 else "unreachable"
                last = BackendError(reason, f"HTTP {response.status_code}")
                delay = max(delay, _retry_after(response))
            if attempt < self.retries:
                self.sleep(min(self.max_backoff, delay))
        assert last is not None
        raise last

    def close(self) -> None:
        self.client.close()


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After")
    if not value:
        return 0.0
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 0.0
