"""Names of the protocol's states and steps, as msgids for pages and messages."""

from __future__ import annotations

from kefu.core.i18n import N_

FREEZE_LABELS = {
    "frozen": N_("Frozen"),
    "failed": N_("Freeze failed"),
    "unfreeze_authorized": N_("Unfreeze authorized"),
    "unfrozen": N_("Unfrozen"),
}
CASE_LABELS = {"open": N_("Open"), "closed": N_("Closed")}
ASSESSMENT_LABELS = {
    "pending": N_("Waiting for approvers"),
    "rejected": N_("Rejected"),
    "no_fault": N_("Not a platform fault: closed without payout"),
    "payout_authorized": N_("Payout authorized"),
    "paid": N_("Paid"),
}
APPROVAL_LABELS = {
    "pending": N_("pending"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "executed": N_("executed"),
}
ACTOR_LABELS = {"system": N_("kefu"), "customer": N_("the customer"), "bot": N_("the bot")}
EVENT_LABELS = {
    "reported": N_("Reported compromised"),
    "report_joined": N_("Reported again"),
    "case_opened": N_("Case and urgent risk ticket opened"),
    "frozen": N_("Account frozen"),
    "freeze_failed": N_("Freeze failed"),
    "trace_recorded": N_("Trace recorded"),
    "case_read": N_("Case opened"),
    "unfreeze_refused": N_("Unfreeze refused"),
    "unfreeze_authorized": N_("Unfreeze authorized"),
    "unfrozen": N_("Account unfrozen"),
    "assessment_recorded": N_("Assessment recorded"),
    "assessment_closed_without_payout": N_("Closed without payout"),
    "assessment_approved": N_("Assessment approved"),
    "assessment_rejected": N_("Assessment rejected"),
    "assessment_approval_refused": N_("Approval refused"),
    "payout_refused": N_("Payout refused"),
    "payout_authorized": N_("Payout authorized"),
    "compensation_paid": N_("Compensation paid"),
    "case_closed": N_("Case closed"),
}

ALL = {
    "freeze_labels": FREEZE_LABELS,
    "case_labels": CASE_LABELS,
    "assessment_labels": ASSESSMENT_LABELS,
    "approval_labels": APPROVAL_LABELS,
    "actor_labels": ACTOR_LABELS,
    "event_labels": EVENT_LABELS,
}
