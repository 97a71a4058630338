"""Refusals of second factors, step-up and approvals, each with a stable problem code.

Refusals of a code or of an operation are `keep_writes`: the request rolls nothing back that
was written before the refusal, so the audit entry and the failure count stay on record.
"""

from __future__ import annotations

from kefu.core.errors import (
    BadRequest,
    Conflict,
    KefuError,
    NotAuthenticated,
    PermissionDenied,
    RateLimited,
)
from kefu.core.i18n import N_


class MfaRequired(NotAuthenticated):
    code = "mfa_required"
    message = N_("Confirm this sign-in with your authenticator app or a recovery code.")


class MfaEnrolmentRequired(PermissionDenied):
    code = "mfa_enrolment_required"
    message = N_("Set up an authenticator app before you continue.")


class InvalidCode(KefuError):
    status = 400
    code = "invalid_code"
    message = N_("The code is wrong, expired or already used.")
    keep_writes = True


class FactorLocked(RateLimited):
    code = "mfa_locked"
    message = N_("Too many wrong codes; try again in %(minutes)s minutes.")
    keep_writes = True


class NotEnrolled(Conflict):
    code = "totp_not_enrolled"
    message = N_("No authenticator app is set up.")


class AlreadyEnrolled(Conflict):
    code = "totp_already_enrolled"
    message = N_("An authenticator app is already set up; disable it first.")


class NoPendingEnrolment(Conflict):
    code = "totp_enrolment_not_started"
    message = N_("Start setting up an authenticator app first.")


class MfaRequiredForRole(Conflict):
    code = "mfa_required_for_role"
    message = N_("Your role requires a second factor; it cannot be turned off.")


class SmsUnavailable(Conflict):
    code = "sms_unavailable"
    message = N_("No phone number is on file for an SMS code.")


class SmsSendLimited(RateLimited):
    code = "sms_send_limited"
    message = N_("Too many codes were sent to this number; try again later.")
    keep_writes = True


class SmsDeliveryFailed(KefuError):
    status = 502
    code = "sms_delivery_failed"
    message = N_("The SMS could not be sent: %(reason)s")
    keep_writes = True


class FactorNotAccepted(BadRequest):
    code = "factor_not_accepted"
    message = N_("This operation does not accept the factor %(factor)s.")


class UnknownOperation(BadRequest):
    code = "unknown_operation"
    message = N_("Unknown operation %(operation)s.")


class StepUpError(KefuError):
    """Refusal of an operation by `consume_step_up`; always audited, always kept."""

    status = 403
    keep_writes = True


class StepUpRequired(StepUpError):
    code = "step_up_required"
    message = N_("This operation needs a confirmed step-up challenge.")


class StepUpMismatch(StepUpError):
    code = "step_up_mismatch"
    message = N_("The challenge was confirmed for another operation, customer or request.")


class StepUpIncomplete(StepUpError):
    code = "step_up_incomplete"
    message = N_("The challenge still needs: %(missing)s.")


class StepUpStale(StepUpError):
    code = "step_up_stale"
    message = N_("The confirmation is too old; confirm the challenge again.")


class StepUpUsed(StepUpError):
    status = 409
    code = "step_up_used"
    message = N_("This challenge was already used.")


class StepUpCoolingOff(StepUpError):
    code = "step_up_cooling_off"
    message = N_("This operation may run only after a waiting period, from %(until)s.")


class ApprovalRequired(StepUpError):
    code = "approval_required"
    message = N_("This operation needs a second person's approval.")


class ApprovalNotAllowed(PermissionDenied):
    code = "approval_not_allowed"
    message = N_("You may not decide this approval: %(reason)s")
    keep_writes = True


class ApprovalDecided(Conflict):
    code = "approval_already_decided"
    message = N_("This approval has already been decided.")
