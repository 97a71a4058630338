"""Twilio Programmable Messaging over its REST API (2010-04-01).

`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth with the
account SID and auth token, form fields `To`, `From`, `Body`. Success is 201 with a JSON
message resource (`sid`, `status`); a refusal is 4xx with `code`, `message`, `more_info`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from kefu.core.settings import Settings
from kefu.identity.adapters import SentSms, SmsDeliveryError


@dataclass
class TwilioSmsSender:
    account_sid: str
    auth_token: str
    from_number: str
    base_url: str = "https://api.twilio.com"
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSmsSender:
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from_number,
            base_url=settings.twilio_base_url,
            timeout_seconds=settings.twilio_timeout_seconds,
        )

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def send(self, session: Session, to: str, body: str) -> SentSms:
        if not (self.account_sid and self.auth_token and self.from_number):
            raise SmsDeliveryError("Twilio is not configured")
        try:
            response = httpx.post(
                self.messages_url,
                data={"To": to, "From": self.from_number, "Body": body},
                auth=(self.account_sid, self.auth_token),
                headers={"Accept": "application/json"},
                timeout=self.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise SmsDeliveryError(f"Twilio unreachable: {type(exc).__name__}") from None
        payload = _json(response)
        if response.is_success and isinstance(payload.get("sid"), str):
            return SentSms(provider_id=payload["sid"], status=str(payload.get("status", "")))
        code = payload.get("code")
        message = payload.get("message") or f"HTTP {response.status_code}"
        raise SmsDeliveryError(
            f"Twilio error {code}: {message}" if code is not None else f"Twilio: {message}",
            code=None if code is None else str(code),
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
