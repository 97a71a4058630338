"""Dialogue flows: one per intent, each a small state machine over named steps.

A flow gets a `Turn` (the redacted text, the language, what it collected so far, the step
it left off at) and returns an `Outcome`: what to say, the next step (None when done), facts
to keep, and a `Handoff` when a person must take over. Flows reach other modules only through
`BotServices`; when a service is missing they hand off with what they collected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kefu.bot.services import BotServices, KbHit, ServiceAnswer
from kefu.core.i18n import N_, translate
from kefu.identity.models import Customer
from kefu.tickets.models import Category, Priority

# Intents whose risk means a person must look at once (asset security, irreversible loss).
RISKY_INTENTS = frozenset(
    {"account_compromised", "wrong_address", "liquidation_dispute", "2fa_reset"}
)

MAX_TX_HASH_ATTEMPTS = 2


@dataclass
class Turn:
    session: Session
    customer: Customer
    services: BotServices
    text: str
    language: str
    step: str | None
    facts: dict[str, Any]

    def t(self, message: str, **params: Any) -> str:
        return translate(message, self.language, **params)


@dataclass(frozen=True)
class Handoff:
    reason: str  # risky_intent, requested, service_unavailable, unresolved, low_confidence, ...
    category: str
    priority: str = Priority.NORMAL
    asset_related: bool = False


@dataclass
class Outcome:
    replies: list[str]
    step: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    handoff: Handoff | None = None


@dataclass(frozen=True)
class Route:
    """Where this intent's tickets go: category, priority, asset-related (→ risk queue)."""

    category: str
    priority: str = Priority.NORMAL
    asset_related: bool = False


ROUTES: dict[str, Route] = {
    "account_compromised": Route(Category.SECURITY, Priority.URGENT, True),
    "2fa_reset": Route(Category.SECURITY, Priority.HIGH, True),
    "wrong_address": Route(Category.WITHDRAWAL, Priority.HIGH, True),
    "liquidation_dispute": Route(Category.FUTURES, Priority.HIGH, True),
    "password_reset": Route(Category.ACCOUNT),
    "kyc_status": Route(Category.KYC),
    "deposit_missing": Route(Category.DEPOSIT),
    "withdrawal_status": Route(Category.WITHDRAWAL),
    "fees": Route(Category.TRADING, Priority.LOW),
    "policy_question": Route(Category.POLICY),
}
DEFAULT_ROUTE = Route(Category.OTHER)

# Ticket subjects, in the customer's language.
SUBJECTS: dict[str, str] = {
    "account_compromised": N_("Account may be compromised"),
    "2fa_reset": N_("Two-factor authentication reset"),
    "wrong_address": N_("Funds sent to a wrong address"),
    "liquidation_dispute": N_("Liquidation dispute"),
    "password_reset": N_("Password reset"),
    "kyc_status": N_("Identity verification status"),
    "deposit_missing": N_("Deposit not credited"),
    "withdrawal_status": N_("Withdrawal status"),
    "fees": N_("Question about fees"),
    "policy_question": N_("Policy question"),
    "talk_to_human": N_("Customer asked for a person"),
}
DEFAULT_SUBJECT = N_("Conversation with the bot")


def handoff_for(intent: str | None, reason: str) -> Handoff:
    route = ROUTES.get(intent or "", DEFAULT_ROUTE)
    return Handoff(reason, route.category, route.priority, route.asset_related)


HANDING_OFF = N_(
    "I am passing this to a colleague with everything you told me; they will reply here."
)


def _unavailable(turn: Turn, intent: str, facts: dict[str, Any] | None = None) -> Outcome:
    return Outcome(
        [turn.t(HANDING_OFF)], facts=facts or {}, handoff=handoff_for(intent, "service_unavailable")
    )


def _answered(turn: Turn, intent: str, answer: ServiceAnswer) -> Outcome:
    text = answer.text + (f"\n{answer.link}" if answer.link else "")
    if answer.resolved:
        return Outcome([text], facts=answer.facts)
    return Outcome(
        [text, turn.t(HANDING_OFF)], facts=answer.facts, handoff=handoff_for(intent, "unresolved")
    )


# --- flows ----------------------------------------------------------------------------------


def greeting(turn: Turn) -> Outcome:
    return Outcome([turn.t(N_("Hello! I am the support bot. How can I help you today?"))])


def thanks(turn: Turn) -> Outcome:
    return Outcome([turn.t(N_("You are welcome. Is there anything else I can help with?"))])


def talk_to_human(turn: Turn) -> Outcome:
    return Outcome(
        [turn.t(N_("Of course. I am connecting you with a colleague; they will reply here."))],
        handoff=handoff_for("talk_to_human", "requested"),
    )


def account_compromised(turn: Turn) -> Outcome:
    """Freeze first, talk after: the security protocol runs before anything is said."""
    frozen = turn.services.report_compromise(turn.session, turn.customer, turn.language)
    replies = []
    facts: dict[str, Any] = {"freeze": "done" if frozen is not None else "not_available"}
    if frozen is not None:
        replies.append(frozen.text)
        facts.update(frozen.facts)
    replies.append(
        turn.t(
            N_(
                "This is urgent and our security team has it now. Do not send anyone your "
                "password, codes or recovery phrase; we will never ask for them. If you can "
                "still sign in, change your password and remove unknown devices and API keys."
            )
        )
    )
    return Outcome(replies, facts=facts, handoff=handoff_for("account_compromised", "risky_intent"))


def two_factor_reset(turn: Turn) -> Outcome:
    return Outcome(
        [
            turn.t(
                N_(
                    "Resetting two-factor authentication needs a check of your identity by our "
                    "security team. I am passing this to them; they will reply here."
                )
            )
        ],
        handoff=handoff_for("2fa_reset", "risky_intent"),
    )


def wrong_address(turn: Turn) -> Outcome:
    intent = "wrong_address"
    outcome = Outcome(
        [
            turn.t(
                N_(
                    "Blockchain transfers cannot be reversed, so no one can cancel it. If the "
                    "address belongs to this exchange we can open a recovery case; otherwise "
                    "only the owner of that address can send the funds back. A colleague will "
                    "review your case and reply here."
                )
            )
        ],
        handoff=handoff_for("wrong_address", "risky_intent"),
    )
    hit = pick_article(turn.services.search_kb(turn.session, turn.text, turn.language), intent)
    if hit is not None and hit.slug in ARTICLES[intent]:
        outcome.replies.append(article_reply(hit))
        outcome.facts["kb_article"] = hit.url
    return outcome


def liquidation_dispute(turn: Turn) -> Outcome:
    return Outcome(
        [
            turn.t(
                N_(
                    "I am sorry about the liquidation. A colleague will review it against the "
                    "mark and index prices and any service incidents at that time, and reply here."
                )
            )
        ],
        handoff=handoff_for("liquidation_dispute", "risky_intent"),
    )


_BTC_TX = re.compile(r"(?<![0-9a-fA-Fx])([0-9a-fA-F]{64})(?![0-9a-fA-F])")
_EVM_TX = re.compile(r"(?<![0-9a-zA-Z])(0x[0-9a-fA-F]{64})(?![0-9a-fA-F])")


def find_tx_hash(text: str) -> tuple[str, str] | None:
    """(chain, hash): an EVM hash is 0x + 64 hex, a Bitcoin txid 64 hex without a prefix."""
    evm = _EVM_TX.search(text)
    if evm:
        return "ethereum", evm.group(1).lower()
    btc = _BTC_TX.search(text)
    if btc:
        return "bitcoin", btc.group(1).lower()
    return None


ASK_TX_HASH = N_(
    "Please send the transaction hash (TXID) of the deposit. A Bitcoin TXID is 64 hexadecimal "
    "characters; an Ethereum one starts with 0x followed by 64."
)


ASK_ANOTHER_TX_HASH = N_(
    "If your deposit is not one of these, send me its transaction hash (TXID) and I will "
    "check it on the chain."
)


def deposit_missing(turn: Turn) -> Outcome:
    found = find_tx_hash(turn.text)
    if found is None:
        attempts = int(turn.facts.get("tx_hash_attempts", 0)) + (1 if turn.step else 0)
        if attempts >= MAX_TX_HASH_ATTEMPTS:
            return Outcome(
                [
                    turn.t(N_("That does not look like a transaction hash either.")),
                    turn.t(HANDING_OFF),
                ],
                facts={"tx_hash_attempts": attempts},
                handoff=handoff_for("deposit_missing", "unresolved"),
            )
        replies = [turn.t(ASK_TX_HASH)]
        facts: dict[str, Any] = {"tx_hash_attempts": attempts}
        if turn.step:
            replies.insert(0, turn.t(N_("That does not look like a transaction hash.")))
        else:  # first turn: show the deposits the exchange already sees on their way
            pending = turn.services.deposit_status(turn.session, turn.customer, turn.language)
            if pending is not None and pending.text:
                replies = [pending.text, turn.t(ASK_ANOTHER_TX_HASH)]
                facts.update(pending.facts)
        return Outcome(replies, step="tx_hash", facts=facts)
    chain, tx_hash = found
    facts = {"chain": chain, "tx_hash": tx_hash}
    answer = turn.services.check_transaction(
        turn.session, turn.customer, chain, tx_hash, turn.language
    )
    if answer is None:
        return _unavailable(turn, "deposit_missing", facts)
    outcome = _answered(turn, "deposit_missing", answer)
    outcome.facts = {**facts, **outcome.facts}
    return outcome


def _lookup(
    intent: str,
    call: Callable[[BotServices], Callable[[Session, Customer, str], ServiceAnswer | None]],
) -> Callable[[Turn], Outcome]:
    def flow(turn: Turn) -> Outcome:
        answer = call(turn.services)(turn.session, turn.customer, turn.language)
        if answer is None:
            return _unavailable(turn, intent)
        return _answered(turn, intent, answer)

    return flow


withdrawal_status = _lookup("withdrawal_status", lambda s: s.withdrawal_status)
_kyc_lookup = _lookup("kyc_status", lambda s: s.kyc_status)


def kyc_status(turn: Turn) -> Outcome:
    """The exchange's stage and expected time, then the KB article explaining the levels."""
    outcome = _kyc_lookup(turn)
    if outcome.handoff is None or outcome.handoff.reason != "service_unavailable":
        hits = turn.services.search_kb(turn.session, turn.text, turn.language)
        hit = pick_article(hits, "kyc_status")
        if hit is not None and hit.slug in ARTICLES["kyc_status"]:
            outcome.replies.insert(1, article_reply(hit))
            outcome.facts["kb_article"] = hit.url
    return outcome


# The starter article each knowledge flow prefers when the search returns it.
ARTICLES: dict[str, tuple[str, ...]] = {
    "password_reset": ("reset-password",),
    "fees": ("withdrawal-fees",),
    "wrong_address": ("wrong-address-transfer",),
    "kyc_status": ("kyc-levels",),
    "policy_question": (),
}


def pick_article(hits: list[KbHit] | None, intent: str) -> KbHit | None:
    """The intent's own article if the search found it, else (for open questions) the best
    hit. Search scores are rank fusion scores, not probabilities: order is all they say."""
    if not hits:
        return None
    preferred = ARTICLES.get(intent, ())
    for hit in hits:
        if hit.slug in preferred:
            return hit
    return None if preferred and intent == "password_reset" else hits[0]


def open_question(
    session: Session, services: BotServices, text: str, language: str
) -> KbHit | None:
    """A question no intent covers (SegWit, scams, fake support …): among the top three
    articles, the first whose title shares a search term with it; None lets the bot ask to
    rephrase and then hand off as before."""
    for hit in (services.search_kb(session, text, language) or [])[:3]:
        if hit.title_match:
            return hit
    return None


def article_reply(hit: KbHit) -> str:
    return f"{hit.title}\n{hit.snippet}\n{hit.url}"


def _knowledge(intent: str) -> Callable[[Turn], Outcome]:
    def flow(turn: Turn) -> Outcome:
        hit = pick_article(turn.services.search_kb(turn.session, turn.text, turn.language), intent)
        if hit is None:
            return _unavailable(turn, intent)
        return Outcome([article_reply(hit)], facts={"kb_article": hit.url})

    return flow


# How-to from the knowledge base; the reset itself needs step-up and stays with the customer.
password_reset = _knowledge("password_reset")
fees = _knowledge("fees")

_TAX = re.compile(r"\btax|税", re.IGNORECASE)


def policy_topic(text: str) -> str:
    """The policy template topic a question is about (templates exist for regulation, tax)."""
    return "tax" if _TAX.search(text) else "regulation"


def policy_question(turn: Turn) -> Outcome:
    """The compliance-reviewed template for the customer's jurisdiction and topic (facts,
    then "not legal advice", then advice); no template fits → compliance takes it."""
    topic = policy_topic(turn.text)
    answer = turn.services.policy_answer(turn.session, turn.customer, topic, turn.language)
    facts: dict[str, Any] = {"policy_topic": topic}
    if answer is None:
        return Outcome(
            [turn.t(N_("A colleague from our compliance team will answer this here."))],
            facts={**facts, "jurisdiction": turn.customer.jurisdiction},
            handoff=handoff_for("policy_question", "no_policy_template"),
        )
    return Outcome([answer.text], facts={**facts, **answer.facts})


FLOWS: dict[str, Callable[[Turn], Outcome]] = {
    "greeting": greeting,
    "thanks": thanks,
    "talk_to_human": talk_to_human,
    "account_compromised": account_compromised,
    "2fa_reset": two_factor_reset,
    "wrong_address": wrong_address,
    "liquidation_dispute": liquidation_dispute,
    "deposit_missing": deposit_missing,
    "withdrawal_status": withdrawal_status,
    "kyc_status": kyc_status,
    "password_reset": password_reset,
    "fees": fees,
    "policy_question": policy_question,
}

# Public help for visitors who are not signed in: no account is looked at, nothing stored.
PUBLIC_INTENTS = frozenset({"greeting", "thanks", "fees", "policy_question"})
