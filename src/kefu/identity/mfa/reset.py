"""`2fa.reset`: an agent clears a customer's lost authenticator — only through a step-up
challenge (the customer re-verified by an ID-document review, the agent's own TOTP) and a
second agent's approval. The first consumer of `consume_step_up`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.identity.mfa import totp
from kefu.identity.mfa.models import OwnerType
from kefu.identity.mfa.stepup import consume_step_up
from kefu.identity.models import Agent

OPERATION = "2fa.reset"


def reset_payload(customer_id: str) -> dict[str, str]:
    """What a `2fa.reset` challenge is bound to."""
    return {"customer_id": customer_id, "factor": "totp"}


def reset_customer_totp(
    session: Session, *, customer_id: str, challenge_id: str | None, agent: Agent
) -> int:
    """Disable the customer's authenticator and recovery codes; how many were active."""
    consume_step_up(
        session,
        challenge_id,
        operation=OPERATION,
        customer_id=customer_id,
        payload=reset_payload(customer_id),
        acting_agent=agent,
    )
    removed = totp.remove_totp(session, totp.Owner(OwnerType.CUSTOMER, customer_id))
    record(
        session,
        Actor.agent(agent.id),
        "mfa.reset",
        subject_type="customer",
        subject_id=customer_id,
        data={"factor": "totp", "challenge_id": challenge_id, "disabled": removed},
    )
    return removed
