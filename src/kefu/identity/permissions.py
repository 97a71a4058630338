"""Roles and what they may do. Every route checks one of these before it acts."""

from __future__ import annotations

from enum import StrEnum

from kefu.identity.models import Role


class Permission(StrEnum):
    TICKETS_READ = "tickets.read"
    TICKETS_WRITE = "tickets.write"
    TICKETS_ASSIGN_OTHERS = "tickets.assign_others"
    TICKETS_READ_ALL_QUEUES = "tickets.read_all_queues"
    RISK_QUEUE = "tickets.risk_queue"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    SLA_MANAGE = "sla.manage"
    AUDIT_READ = "audit.read"
    AGENTS_MANAGE = "agents.manage"
    # Second factors and step-up (kefu.identity.mfa).
    STEP_UP_START = "step_up.start"
    MFA_RESET = "mfa.reset"
    APPROVALS_DECIDE = "approvals.decide"
    STEP_UP_POLICY_MANAGE = "step_up.policy_manage"
    SMS_OUTBOX_READ = "sms.outbox_read"
    # ID-document review: work the queue and decide; open a document (audited).
    DOCUMENTS_REVIEW = "documents.review"
    DOCUMENTS_VIEW = "documents.view"
    CHAIN_CHECK = "chain.check"
    CHAIN_PROOFS = "chain.proofs"
    CHAIN_LABELS_MANAGE = "chain.labels.manage"
    # A customer's data at the exchange (account, KYC, balances, transfers, positions, logins).
    EXCHANGE_READ = "exchange.read"
    # Knowledge base: read drafts and history, edit drafts and macros, publish and own
    # policy templates.
    KB_READ = "kb.read"
    KB_WRITE = "kb.write"
    KB_PUBLISH = "kb.publish"
    # The security protocol: anyone may report a compromise (it only freezes); risk officers
    # work the cases (unfreeze, assessment, compensation).
    SECURITY_REPORT = "security.report"
    SECURITY_CASES = "security.cases"
    # Liquidation disputes: recompute a liquidation, attach the analysis to the ticket.
    DISPUTES_ANALYSE = "disputes.analyse"


_AGENT = {
    Permission.TICKETS_READ,
    Permission.TICKETS_WRITE,
    Permission.CUSTOMERS_READ,
    Permission.CUSTOMERS_WRITE,
    Permission.STEP_UP_START,
    Permission.MFA_RESET,
    Permission.CHAIN_CHECK,
    Permission.CHAIN_PROOFS,
    Permission.EXCHANGE_READ,
    Permission.KB_READ,
    Permission.KB_WRITE,
    Permission.SECURITY_REPORT,
    Permission.DISPUTES_ANALYSE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(_AGENT),
    Role.SUPERVISOR: frozenset(
        _AGENT
        | {
            Permission.TICKETS_ASSIGN_OTHERS,
            Permission.TICKETS_READ_ALL_QUEUES,
            Permission.RISK_QUEUE,
            Permission.SLA_MANAGE,
            Permission.APPROVALS_DECIDE,
            Permission.SMS_OUTBOX_READ,
            Permission.KB_PUBLISH,
        }
    ),
    Role.RISK_OFFICER: frozenset(
        _AGENT
        | {
            Permission.RISK_QUEUE,
            Permission.TICKETS_ASSIGN_OTHERS,
            Permission.APPROVALS_DECIDE,
            Permission.DOCUMENTS_REVIEW,
            Permission.DOCUMENTS_VIEW,
            Permission.CHAIN_LABELS_MANAGE,
            Permission.SECURITY_CASES,
        }
    ),
    Role.COMPLIANCE_OFFICER: frozenset(_AGENT | {Permission.KB_PUBLISH}),
    Role.ADMIN: frozenset(set(Permission)),
}


def has_permission(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
