"""The `id_review` step-up factor is the customer's approved ID-document review
(`kefu.identity.documents.service.identity_reverified_at`): an approved review recent enough
satisfies a policy requiring it; a rejected, an absent or a too-old one does not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.core.clock import clock
from kefu.core.settings import Settings
from kefu.identity.mfa import stepup
from kefu.identity.models import Agent, Customer, Role
from tests.factories import make_agent, make_customer, make_identity_review
from tests.identity.mfa.helpers import T0


def _missing(session: Session, customer: Customer, agent: Agent) -> list[str]:
    challenge = stepup.create_challenge(
        session,
        operation="2fa.reset",
        customer_id=customer.id,
        payload={"customer_id": customer.id, "factor": "totp"},
        actor=Actor.agent(agent.id),
        acting_agent=agent,
    )
    return stepup.challenge_state(session, challenge).missing


def test_an_approved_review_satisfies_id_review_and_others_do_not(
    session: Session, settings: Settings
) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    reviewer = make_agent(session, Role.RISK_OFFICER)
    approved, rejected, absent, old = (make_customer(session) for _ in range(4))
    make_identity_review(
        session, approved, reviewer, decided_at=T0 - timedelta(days=3), settings=settings
    )
    make_identity_review(
        session, rejected, reviewer, decision="reject", decided_at=T0 - timedelta(days=1)
    )
    # The default policy accepts a review decided within the last 30 days.
    make_identity_review(session, old, reviewer, decided_at=T0 - timedelta(days=31))
    clock.freeze(T0)

    assert _missing(session, approved, agent) == ["agent:totp"]
    for customer in (rejected, absent, old):
        assert _missing(session, customer, agent) == ["customer:id_review", "agent:totp"]

    # A later approval of the customer rejected before satisfies it from then on.
    make_identity_review(session, rejected, reviewer, decided_at=T0)
    assert _missing(session, rejected, agent) == ["agent:totp"]
