"""Request signing for the REST contract: HMAC-SHA256 over the timestamp, method, path with
query, and the SHA-256 of the body.

    Kefu-Key-Id:    the key id the exchange issued to this kefu deployment
    Kefu-Timestamp: Unix time in seconds; the exchange refuses requests more than
                    `MAX_SKEW_SECONDS` away from its own clock (replays)
    Kefu-Signature: hex HMAC-SHA256(secret,
                    "<timestamp>\\n<METHOD>\\n<path?query>\\n<hex sha256(body)>")
"""

from __future__ import annotations

import hashlib
import hmac

MAX_SKEW_SECONDS = 300
KEY_HEADER = "Kefu-Key-Id"
TIMESTAMP_HEADER = "Kefu-Timestamp"
SIGNATURE_HEADER = "Kefu-Signature"


def signature(secret: str, timestamp: str, method: str, target: str, body: bytes) -> str:
    message = "\n".join(
        (timestamp, method.upper(), target, hashlib.sha256(body).hexdigest())
    ).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    *,
    timestamp: str | None,
    method: str,
    target: str,
    body: bytes,
    given: str | None,
    now: float,
) -> bool:
    if not timestamp or not given or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    expected = signature(secret, timestamp, method, target, body)
    return hmac.compare_digest(expected, given)
