"""Four-eyes approval: for operations the policy marks high-risk, a second agent with an
approver role — never the one who asked — approves or rejects with their own fresh TOTP.
The operation itself still runs once, through `consume_step_up`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.errors import Conflict, NotFound, PermissionDenied
from kefu.core.i18n import N_
from kefu.core.settings import Settings
from kefu.identity.mfa import totp
from kefu.identity.mfa.errors import ApprovalDecided, ApprovalNotAllowed, FactorNotAccepted
from kefu.identity.mfa.models import (
    ApprovalRequest,
    ApprovalStatus,
    ChallengeStatus,
    OwnerType,
)
from kefu.identity.mfa.stepup import get_challenge, policy_for
from kefu.identity.models import Agent


def request_approval(
    session: Session, challenge_id: str, *, requester: Agent, reason: str
) -> ApprovalRequest:
    """The acting agent asks for a second person's approval of the challenge's operation."""
    challenge = get_challenge(session, challenge_id)
    if challenge.acting_agent_id != requester.id:
        raise PermissionDenied(N_("Only the agent who started this operation asks for approval."))
    if challenge.status != ChallengeStatus.OPEN:
        raise Conflict(N_("This challenge was already used."))
    policy = policy_for(session, challenge.operation)
    if not policy.four_eyes:
        raise FactorNotAccepted(factor="four_eyes")
    if session.scalar(
        select(ApprovalRequest.id).where(ApprovalRequest.challenge_id == challenge.id)
    ):
        raise Conflict(N_("An approval was already requested for this challenge."))
    approval = ApprovalRequest(
        challenge_id=challenge.id,
        operation=challenge.operation,
        customer_id=challenge.customer_id,
        payload_hash=challenge.payload_hash,
        requester_id=requester.id,
        reason=reason,
        status=ApprovalStatus.PENDING,
        created_at=utcnow(),
    )
    session.add(approval)
    session.flush()
    record(
        session,
        Actor.agent(requester.id),
        "approval.requested",
        subject_type="customer",
        subject_id=challenge.customer_id,
        data={
            "approval_id": approval.id,
            "challenge_id": challenge.id,
            "operation": challenge.operation,
            "payload_hash": challenge.payload_hash,
        },
    )
    return approval


def get_approval(session: Session, approval_id: str) -> ApprovalRequest:
    approval = session.get(ApprovalRequest, approval_id)
    if approval is None:
        raise NotFound(kind=N_("Approval"), id=approval_id)
    return approval


def list_approvals(session: Session, *, status: str | None = None) -> list[ApprovalRequest]:
    stmt = select(ApprovalRequest)
    if status:
        stmt = stmt.where(ApprovalRequest.status == status)
    return list(session.scalars(stmt.order_by(ApprovalRequest.created_at.desc()).limit(200)))


def decide_approval(
    session: Session,
    approval_id: str,
    *,
    approver: Agent,
    approve: bool,
    code: str,
    reason: str | None = None,
    settings: Settings | None = None,
) -> ApprovalRequest:
    """Approve or reject: a different agent, with an approver role, proving their own TOTP."""
    approval = get_approval(session, approval_id)
    actor = Actor.agent(approver.id)
    if approval.status != ApprovalStatus.PENDING:
        raise ApprovalDecided()
    policy = policy_for(session, approval.operation)
    refusal = None
    if approver.id == approval.requester_id:
        refusal = N_("the requester cannot approve their own request")
    elif approver.role not in {str(r) for r in policy.approver_roles}:
        refusal = N_("your role may not approve this operation")
    if refusal is not None:
        record(
            session,
            actor,
            "approval.refused",
            subject_type="customer",
            subject_id=approval.customer_id,
            data={"approval_id": approval.id, "reason": refusal},
        )
        raise ApprovalNotAllowed(reason=refusal)
    totp.verify_totp(
        session,
        totp.Owner(OwnerType.AGENT, approver.id),
        code,
        purpose=f"approval:{approval.id}",
        settings=settings,
    )
    approval.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    approval.decided_by_id = approver.id
    approval.decided_at = utcnow()
    approval.decision_reason = reason
    if not approve:
        challenge = get_challenge(session, approval.challenge_id)
        challenge.status = ChallengeStatus.CONSUMED  # a rejected request cannot run later
        challenge.consumed_at = approval.decided_at
    record(
        session,
        actor,
        "approval.approved" if approve else "approval.rejected",
        subject_type="customer",
        subject_id=approval.customer_id,
        data={
            "approval_id": approval.id,
            "challenge_id": approval.challenge_id,
            "operation": approval.operation,
        },
    )
    return approval
