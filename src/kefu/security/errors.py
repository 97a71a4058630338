"""Refusals of the security protocol, each with a stable problem code."""

from __future__ import annotations

from kefu.core.errors import BadRequest, Conflict, PermissionDenied, ValidationFailed
from kefu.core.i18n import N_


class CaseClosed(Conflict):
    code = "security_case_closed"
    message = N_("This security case is closed.")


class NotFrozen(Conflict):
    code = "security_case_not_frozen"
    message = N_("The account is not frozen under this case.")


class AssessmentExists(Conflict):
    code = "assessment_exists"
    message = N_("This case already has an assessment that is not rejected.")


class AssessmentDecided(Conflict):
    code = "assessment_already_decided"
    message = N_("This assessment has already been decided.")


class AmountsInvalid(ValidationFailed):
    code = "compensation_amounts_invalid"
    message = N_("Compensation amounts: %(reason)s")


class OwnAssessment(PermissionDenied):
    code = "own_assessment"
    message = N_("The assessor cannot approve their own assessment.")
    keep_writes = True


class ApproverRoleRequired(PermissionDenied):
    code = "approver_role_required"
    message = N_("Your role may not approve compensation.")
    keep_writes = True


class AlreadyApproved(Conflict):
    code = "assessment_already_approved_by_you"
    message = N_("You have already decided this assessment.")


class NoPayout(Conflict):
    code = "compensation_not_payable"
    message = N_("This assessment pays nothing (status %(status)s).")


class ApprovalsMissing(PermissionDenied):
    code = "compensation_approvals_missing"
    message = N_("A payout needs two approvers other than the assessor; %(count)s so far.")
    keep_writes = True


class PayoutInFlight(Conflict):
    code = "compensation_payout_in_flight"
    message = N_("A payout was authorized and is not confirmed yet; retry the payout first.")


class NotYourAccount(BadRequest):
    code = "security_customer_required"
    message = N_("Name the customer whose account is compromised.")
