"""TOTP (RFC 6238) authenticator apps and recovery codes, for agents and customers alike.

Seeds are sealed at rest with the data key, bound to their owner by the associated data, so a
sealed seed copied into another person's row does not open. A code is accepted within one
time step either side (clock drift), compared in constant time, and only once: the last
accepted step is remembered per credential. Wrong codes count towards a lockout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.crypto import sealer_for
from kefu.core.settings import Settings, get_settings
from kefu.identity.mfa.errors import (
    AlreadyEnrolled,
    FactorLocked,
    InvalidCode,
    NoPendingEnrolment,
    NotEnrolled,
)
from kefu.identity.mfa.models import FactorFailure, RecoveryCode, TotpCredential, TotpStatus

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
# 16 characters of Crockford-like base32 (80 bits): far beyond offline guessing of its digest.
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
_RECOVERY_LENGTH = 16


@dataclass(frozen=True)
class Owner:
    """Whose factor: an agent or a customer."""

    type: str
    id: str

    @property
    def actor(self) -> Actor:
        return Actor(self.type, self.id)


@dataclass(frozen=True)
class Enrolment:
    """What the person needs to add the account to an authenticator app."""

    credential_id: str
    secret: str
    otpauth_uri: str
    qr_svg: str


# --- pure TOTP -----------------------------------------------------------------------------


def code_at_step(secret_b32: str, step: int, digits: int = DIGITS) -> str:
    """The code for one time step (RFC 4226 HOTP over the step counter)."""
    return pyotp.TOTP(secret_b32, digits=digits, interval=STEP_SECONDS).generate_otp(step)


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def matching_step(
    secret_b32: str,
    code: str,
    at: datetime,
    *,
    last_used_step: int | None = None,
    digits: int = DIGITS,
) -> int | None:
    """The step, within ±1 of `at`, whose code equals `code` and which is newer than the last
    accepted one; None otherwise. Every candidate is compared, in constant time."""
    code = code.strip().replace(" ", "")
    current = step_of(at)
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        expected = code_at_step(secret_b32, step, digits)
        same = hmac.compare_digest(expected.encode(), code.encode())
        fresh = last_used_step is None or step > last_used_step
        if same and fresh and found is None:
            found = step
    return found


# --- lockout -------------------------------------------------------------------------------


def _settings(settings: Settings | None) -> Settings:
    return settings or get_settings()


def check_not_locked(session: Session, owner: Owner, settings: Settings | None = None) -> None:
    settings = _settings(settings)
    since = utcnow() - timedelta(minutes=settings.mfa_lockout_minutes)
    failures = session.scalar(
        select(func.count(FactorFailure.id)).where(
            FactorFailure.owner_type == owner.type,
            FactorFailure.owner_id == owner.id,
            FactorFailure.at >= since,
        )
    )
    if (failures or 0) >= settings.mfa_max_failures:
        record(
            session,
            owner.actor,
            "mfa.locked",
            subject_type=owner.type,
            subject_id=owner.id,
        )
        raise FactorLocked(minutes=settings.mfa_lockout_minutes)


def record_failure(
    session: Session, owner: Owner, factor: str, *, purpose: str, actor: Actor | None = None
) -> None:
    """Count a wrong code and audit it (the code itself is never written anywhere)."""
    session.add(FactorFailure(owner_type=owner.type, owner_id=owner.id, factor=factor, at=utcnow()))
    record(
        session,
        actor or owner.actor,
        "mfa.verify_failed",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"factor": factor, "purpose": purpose},
    )


def clear_failures(session: Session, owner: Owner) -> None:
    session.execute(
        delete(FactorFailure).where(
            FactorFailure.owner_type == owner.type, FactorFailure.owner_id == owner.id
        )
    )


# --- enrolment -----------------------------------------------------------------------------


def _associated_data(owner: Owner, credential_id: str) -> bytes:
    return f"totp|{owner.type}|{owner.id}|{credential_id}".encode()


def _open_seed(credential: TotpCredential, settings: Settings) -> str:
    owner = Owner(credential.owner_type, credential.owner_id)
    return (
        sealer_for(settings)
        .open(credential.sealed_seed, _associated_data(owner, credential.id))
        .decode("ascii")
    )


def active_credential(
    session: Session, owner: Owner, *, for_update: bool = False
) -> TotpCredential | None:
    """The owner's authenticator; `for_update` locks it, so that two concurrent requests with
    the same code cannot both pass the replay check (PostgreSQL; SQLite serialises writers)."""
    stmt = select(TotpCredential).where(
        TotpCredential.owner_type == owner.type,
        TotpCredential.owner_id == owner.id,
        TotpCredential.status == TotpStatus.ACTIVE,
    )
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def _pending_credential(session: Session, owner: Owner) -> TotpCredential | None:
    return session.scalar(
        select(TotpCredential)
        .where(
            TotpCredential.owner_type == owner.type,
            TotpCredential.owner_id == owner.id,
            TotpCredential.status == TotpStatus.PENDING,
        )
        .order_by(TotpCredential.created_at.desc(), TotpCredential.id.desc())
        .limit(1)
    )


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no image library needed)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2))


def begin_totp_enrolment(
    session: Session, owner: Owner, *, account: str, settings: Settings | None = None
) -> Enrolment:
    """Start (or restart) enrolment: a fresh seed, shown once as text, URI and QR code."""
    settings = _settings(settings)
    if active_credential(session, owner) is not None:
        raise AlreadyEnrolled()
    session.execute(
        delete(TotpCredential).where(
            TotpCredential.owner_type == owner.type,
            TotpCredential.owner_id == owner.id,
            TotpCredential.status == TotpStatus.PENDING,
        )
    )
    secret = pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends
    credential = TotpCredential(owner_type=owner.type, owner_id=owner.id, sealed_seed=b"")
    session.add(credential)
    session.flush()
    credential.sealed_seed = sealer_for(settings).seal(
        secret.encode("ascii"), _associated_data(owner, credential.id)
    )
    record(
        session,
        owner.actor,
        "mfa.totp_enrolment_started",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"credential_id": credential.id},
    )
    uri = otpauth_uri(secret, account, settings.totp_issuer)
    return Enrolment(credential.id, secret, uri, qr_svg(uri))


def pending_enrolment(
    session: Session, owner: Owner, *, account: str, settings: Settings | None = None
) -> Enrolment | None:
    """The enrolment started but not yet confirmed, shown again (a page reloaded, a code
    mistyped); None when there is none."""
    settings = _settings(settings)
    credential = _pending_credential(session, owner)
    if credential is None:
        return None
    secret = _open_seed(credential, settings)
    uri = otpauth_uri(secret, account, settings.totp_issuer)
    return Enrolment(credential.id, secret, uri, qr_svg(uri))


def enrol_known_seed(
    session: Session, owner: Owner, secret: str, *, settings: Settings | None = None
) -> TotpCredential:
    """Activate an authenticator with a seed chosen by the caller — the demo's published
    seeds only; real enrolment draws a random one (`begin_totp_enrolment`)."""
    settings = _settings(settings)
    remove_totp(session, owner)
    credential = TotpCredential(
        owner_type=owner.type, owner_id=owner.id, sealed_seed=b"", status=TotpStatus.ACTIVE
    )
    session.add(credential)
    session.flush()
    credential.sealed_seed = sealer_for(settings).seal(
        secret.encode("ascii"), _associated_data(owner, credential.id)
    )
    credential.confirmed_at = utcnow()
    record(
        session,
        owner.actor,
        "mfa.totp_enrolled",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"credential_id": credential.id, "recovery_codes": 0, "seed": "demo"},
    )
    return credential


def _check_code(
    session: Session,
    owner: Owner,
    credential: TotpCredential,
    code: str,
    *,
    purpose: str,
    settings: Settings,
    actor: Actor | None = None,
) -> None:
    step = matching_step(
        _open_seed(credential, settings), code, utcnow(), last_used_step=credential.last_used_step
    )
    if step is None:
        record_failure(session, owner, "totp", purpose=purpose, actor=actor)
        raise InvalidCode()
    credential.last_used_step = step


def confirm_totp_enrolment(
    session: Session, owner: Owner, code: str, *, settings: Settings | None = None
) -> list[str]:
    """Activate the pending seed with a first code; returns fresh recovery codes (shown once)."""
    settings = _settings(settings)
    check_not_locked(session, owner, settings)
    if active_credential(session, owner) is not None:
        raise AlreadyEnrolled()
    credential = _pending_credential(session, owner)
    if credential is None:
        raise NoPendingEnrolment()
    _check_code(session, owner, credential, code, purpose="enrolment", settings=settings)
    credential.status = TotpStatus.ACTIVE
    credential.confirmed_at = utcnow()
    clear_failures(session, owner)
    codes = _issue_recovery_codes(session, owner, settings)
    record(
        session,
        owner.actor,
        "mfa.totp_enrolled",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"credential_id": credential.id, "recovery_codes": len(codes)},
    )
    return codes


def verify_totp(
    session: Session,
    owner: Owner,
    code: str,
    *,
    purpose: str,
    settings: Settings | None = None,
    actor: Actor | None = None,
) -> None:
    """Accept one fresh TOTP code from the owner, or raise (and count the failure)."""
    settings = _settings(settings)
    check_not_locked(session, owner, settings)
    credential = active_credential(session, owner, for_update=True)
    if credential is None:
        raise NotEnrolled()
    _check_code(session, owner, credential, code, purpose=purpose, settings=settings, actor=actor)
    clear_failures(session, owner)
    record(
        session,
        actor or owner.actor,
        "mfa.verified",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"factor": "totp", "purpose": purpose},
    )


# --- recovery codes ------------------------------------------------------------------------


def _recovery_digest(code: str) -> str:
    normalized = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"kefu-recovery|{normalized}".encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _issue_recovery_codes(session: Session, owner: Owner, settings: Settings) -> list[str]:
    session.execute(
        delete(RecoveryCode).where(
            RecoveryCode.owner_type == owner.type, RecoveryCode.owner_id == owner.id
        )
    )
    codes = [_new_recovery_code() for _ in range(settings.recovery_code_count)]
    now = utcnow()
    session.add_all(
        RecoveryCode(
            owner_type=owner.type, owner_id=owner.id, code_hash=_recovery_digest(c), created_at=now
        )
        for c in codes
    )
    return codes


def recovery_codes_left(session: Session, owner: Owner) -> int:
    return int(
        session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.owner_type == owner.type,
                RecoveryCode.owner_id == owner.id,
                RecoveryCode.used_at.is_(None),
            )
        )
        or 0
    )


def verify_recovery_code(
    session: Session,
    owner: Owner,
    code: str,
    *,
    purpose: str,
    settings: Settings | None = None,
    actor: Actor | None = None,
) -> None:
    """Spend one recovery code (single use), or raise and count the failure."""
    settings = _settings(settings)
    check_not_locked(session, owner, settings)
    digest = _recovery_digest(code)
    unused = session.scalars(
        select(RecoveryCode)
        .where(
            RecoveryCode.owner_type == owner.type,
            RecoveryCode.owner_id == owner.id,
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    ).all()
    match = None
    for candidate in unused:
        if hmac.compare_digest(candidate.code_hash, digest):
            match = candidate
    if match is None:
        record_failure(session, owner, "recovery_code", purpose=purpose, actor=actor)
        raise InvalidCode()
    match.used_at = utcnow()
    clear_failures(session, owner)
    record(
        session,
        actor or owner.actor,
        "mfa.verified",
        subject_type=owner.type,
        subject_id=owner.id,
        data={
            "factor": "recovery_code",
            "purpose": purpose,
            "recovery_codes_left": len(unused) - 1,
        },
    )


def verify_factor(
    session: Session,
    owner: Owner,
    factor: str,
    code: str,
    *,
    purpose: str,
    settings: Settings | None = None,
    actor: Actor | None = None,
) -> None:
    """A TOTP code or a recovery code, by name."""
    if factor == "recovery_code":
        verify_recovery_code(session, owner, code, purpose=purpose, settings=settings, actor=actor)
    else:
        verify_totp(session, owner, code, purpose=purpose, settings=settings, actor=actor)


def regenerate_recovery_codes(
    session: Session,
    owner: Owner,
    code: str,
    *,
    factor: str = "totp",
    settings: Settings | None = None,
) -> list[str]:
    """New recovery codes (the old ones stop working), after a fresh factor."""
    settings = _settings(settings)
    if active_credential(session, owner) is None:
        raise NotEnrolled()
    verify_factor(session, owner, factor, code, purpose="recovery_codes", settings=settings)
    codes = _issue_recovery_codes(session, owner, settings)
    record(
        session,
        owner.actor,
        "mfa.recovery_codes_regenerated",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"recovery_codes": len(codes)},
    )
    return codes


def disable_totp(
    session: Session,
    owner: Owner,
    code: str,
    *,
    factor: str = "totp",
    settings: Settings | None = None,
) -> None:
    """Turn the authenticator off, only after a fresh factor from its owner."""
    settings = _settings(settings)
    credential = active_credential(session, owner)
    if credential is None:
        raise NotEnrolled()
    verify_factor(session, owner, factor, code, purpose="disable", settings=settings)
    remove_totp(session, owner)
    record(
        session,
        owner.actor,
        "mfa.totp_disabled",
        subject_type=owner.type,
        subject_id=owner.id,
        data={"credential_id": credential.id, "by": "owner"},
    )


def remove_totp(session: Session, owner: Owner) -> int:
    """Disable every authenticator and recovery code of the owner; how many were active."""
    now = utcnow()
    credentials = session.scalars(
        select(TotpCredential).where(
            TotpCredential.owner_type == owner.type,
            TotpCredential.owner_id == owner.id,
            TotpCredential.status != TotpStatus.DISABLED,
        )
    ).all()
    active = 0
    for credential in credentials:
        active += credential.status == TotpStatus.ACTIVE
        credential.status = TotpStatus.DISABLED
        credential.disabled_at = now
    session.execute(
        delete(RecoveryCode).where(
            RecoveryCode.owner_type == owner.type, RecoveryCode.owner_id == owner.id
        )
    )
    return active
