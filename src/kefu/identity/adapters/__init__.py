"""Ports to systems outside kefu that identity needs: the SMS gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from kefu.core.settings import Settings


@dataclass(frozen=True)
class SentSms:
    """What the gateway answered: its own message id and delivery status."""

    provider_id: str
    status: str


class SmsDeliveryError(Exception):
    """The gateway refused or could not be reached; `reason` is safe to show and log."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class SmsSender(Protocol):
    """Sends one text message to one phone number (E.164)."""

    def send(self, session: Session, to: str, body: str) -> SentSms: ...


def sms_sender_for(settings: Settings) -> SmsSender:
    """The adapter the settings name: `outbox` (embedded demo default) or `twilio`."""
    if settings.sms_adapter == "twilio":
        from kefu.identity.adapters.twilio import TwilioSmsSender

        return TwilioSmsSender.from_settings(settings)
    from kefu.identity.adapters.outbox import OutboxSmsSender

    return OutboxSmsSender()
