"""One-time codes by SMS: random, kept only as a keyed digest, short-lived, rate-limited.

SMS is a *restricted* authenticator (NIST SP 800-63B §5.1.3.3: SIM swaps and SS7 make the
channel weaker than an authenticator app), so step-up policies can refuse it for the
operations that matter most.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.i18n import N_, translate
from kefu.core.settings import Settings, get_settings
from kefu.identity.adapters import SmsDeliveryError, SmsSender, sms_sender_for
from kefu.identity.mfa.errors import (
    InvalidCode,
    SmsDeliveryFailed,
    SmsSendLimited,
    SmsUnavailable,
)
from kefu.identity.mfa.models import SmsCode
from kefu.identity.mfa.totp import Owner, check_not_locked, clear_failures, record_failure

CODE_DIGITS = 6
SMS_TEXT = N_(
    "Your kefu verification code is %(code)s. It expires in %(minutes)s minutes. "
    "Never share it, not even with support."
)


def _digest_key(settings: Settings) -> bytes:
    return hashlib.sha256(f"kefu-sms|{settings.data_encryption_key}".encode()).digest()


def _code_digest(settings: Settings, code_id: str, code: str) -> str:
    message = f"{code_id}|{code.strip()}".encode()
    return hmac.new(_digest_key(settings), message, hashlib.sha256).hexdigest()


def phone_digest(phone: str) -> str:
    return hashlib.sha256(f"kefu-phone|{phone.strip()}".encode()).hexdigest()


def send_code(
    session: Session,
    owner: Owner,
    phone: str | None,
    *,
    purpose: str,
    language: str = "en",
    settings: Settings | None = None,
    sender: SmsSender | None = None,
    actor: Actor | None = None,
) -> SmsCode:
    """Send a fresh code to the owner's phone for `purpose`; earlier codes for it stop working."""
    settings = settings or get_settings()
    if not phone:
        raise SmsUnavailable()
    now = utcnow()
    digest = phone_digest(phone)
    sent_last_hour = session.scalar(
        select(func.count(SmsCode.id)).where(
            SmsCode.phone_digest == digest, SmsCode.created_at > now - timedelta(hours=1)
        )
    )
    if (sent_last_hour or 0) >= settings.sms_max_sends_per_hour:
        record(
            session,
            actor or owner.actor,
            "sms.send_limited",
            subject_type=owner.type,
            subject_id=owner.id,
            data={"purpose": purpose},
        )
        raise SmsSendLimited()
    for earlier in session.scalars(
        select(SmsCode).where(SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
    ):
        earlier.used_at = now  # superseded
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    sms = SmsCode(
        owner_type=owner.type,
        owner_id=owner.id,
        phone_digest=digest,
        purpose=purpose,
        code_hash="",
        created_at=now,
        expires_at=now + timedelta(minutes=settings.sms_code_minutes),
    )
    session.add(sms)
    session.flush()
    sms.code_hash = _code_digest(settings, sms.id, code)
    text = translate(SMS_TEXT, language, code=code, minutes=settings.sms_code_minutes)
    try:
        sent = (sender or sms_sender_for(settings)).send(session, phone, text)
    except SmsDeliveryError as exc:
        sms.used_at = now
        record(
            session,
            actor or owner.actor,
            "sms.send_failed",
            subject_type=owner.type,
            subject_id=owner.id,
            data={"purpose": purpose, "reason": exc.reason, "provider_code": exc.code},
        )
        raise SmsDeliveryFailed(reason=exc.reason) from None
    record(
        session,
        actor or owner.actor,
        "sms.sent",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"purpose": purpose, "sms_id": sms.id, "provider_id": sent.provider_id},
    )
    return sms


def verify_code(
    session: Session,
    owner: Owner,
    code: str,
    *,
    purpose: str,
    settings: Settings | None = None,
    actor: Actor | None = None,
) -> None:
    """Accept the latest unexpired code sent for `purpose`, once; count wrong tries."""
    settings = settings or get_settings()
    check_not_locked(session, owner, settings)
    now = utcnow()
    sms = session.scalar(
        select(SmsCode)
        .where(
            SmsCode.owner_type == owner.type,
            SmsCode.owner_id == owner.id,
            SmsCode.purpose == purpose,
            SmsCode.used_at.is_(None),
        )
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    usable = sms is not None and sms.expires_at > now and sms.attempts < settings.sms_max_attempts
    if (
        sms is not None
        and usable
        and hmac.compare_digest(sms.code_hash, _code_digest(settings, sms.id, code))
    ):
        sms.used_at = now
        clear_failures(session, owner)
        record(
            session,
            actor or owner.actor,
            "mfa.verified",
            subject_type=owner.type,
            subject_id=owner.id,
            data={"factor": "sms", "purpose": purpose},
        )
        return
    if sms is not None:
        sms.attempts += 1
        if sms.attempts >= settings.sms_max_attempts:
            sms.used_at = now
    record_failure(session, owner, "sms", purpose=purpose, actor=actor)
    raise InvalidCode()
