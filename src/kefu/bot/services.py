"""The one seam between the bot's flows and the services other modules own.

Flows never import the knowledge base, the chain checks, the exchange port or the security
protocol directly: they call a `BotServices`. Every method returns None when the service is
not available in this installation, and the flow then hands the conversation to a person with
what it has collected — the bot never makes an answer up.

`production_services()` is the wiring the app uses (`kefu.bot.wired.LiveServices`): the
knowledge base, the chain checks and the exchange port. The freeze (security protocol) is
not wired yet: `report_compromise` returns None and the flow hands off urgently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from kefu.core.settings import Settings
from kefu.exchange.port import Exchange
from kefu.identity.models import Customer


@dataclass(frozen=True)
class KbHit:
    title: str
    url: str
    snippet: str
    slug: str = ""
    # The question shares a search term with the title: the only relevance signal there is
    # (search scores rank, they do not say "relevant"); open questions need it.
    title_match: bool = False


@dataclass(frozen=True)
class ServiceAnswer:
    """What a service found, already worded for the customer in the requested language.

    `resolved` False means the finding needs a person (e.g. a deposit that is on chain with
    enough confirmations but not credited): the flow hands off with `facts` attached."""

    text: str
    resolved: bool = True
    link: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


class BotServices(Protocol):
    def search_kb(self, session: Session, query: str, language: str) -> list[KbHit] | None:
        """Published articles that answer `query` (kb.service.search)."""

    def policy_answer(
        self, session: Session, customer: Customer, topic: str, language: str
    ) -> ServiceAnswer | None:
        """The compliance-reviewed policy template for the customer's jurisdiction and
        `topic` (kb.service.policy_template), facts and advice kept apart; None: none fits."""

    def check_transaction(
        self, session: Session, customer: Customer, chain: str, tx_hash: str, language: str
    ) -> ServiceAnswer | None:
        """Look the transaction up on chain: found, confirmations against the exchange's
        requirement, destination is the customer's deposit address (chain module)."""

    def deposit_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        """Recent deposits as the exchange sees them (exchange port)."""

    def withdrawal_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        """Recent withdrawals with their state and txid (exchange port)."""

    def kyc_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        """Verification stage, level and expected time (exchange port). Nothing in it is
        sensitive, so the chat asks for no step-up (documents stay with the ID reviewers)."""

    def report_compromise(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        """Freeze first (withdrawals, API keys, sessions) through the security protocol."""


class UnwiredServices:
    """Nothing available: every flow that needs a service hands off with its facts."""

    def search_kb(self, session: Session, query: str, language: str) -> list[KbHit] | None:
        return None

    def policy_answer(
        self, session: Session, customer: Customer, topic: str, language: str
    ) -> ServiceAnswer | None:
        return None

    def check_transaction(
        self, session: Session, customer: Customer, chain: str, tx_hash: str, language: str
    ) -> ServiceAnswer | None:
        return None

    def deposit_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        return None

    def withdrawal_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        return None

    def kyc_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        return None

    def report_compromise(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        return None


def production_services(settings: Settings, exchange: Exchange | None = None) -> BotServices:
    """The services the running desk gives the bot (`kefu.bot.wired.LiveServices`): the
    knowledge base and policy templates, chain checks, and `exchange` (the app's port) for
    deposits, withdrawals and KYC. `report_compromise` stays None until the security protocol
    (`kefu.security`) is wired by the integrator."""
    from kefu.bot.wired import LiveServices

    return LiveServices(settings, exchange)
