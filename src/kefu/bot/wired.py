"""The real services behind `BotServices`: the knowledge base, the chain checks and the
exchange port, each worded for the customer in their language.

The bot's routes are plain (sync) FastAPI handlers, so they run in Starlette's worker
threads; the exchange port is async, and is called from there with `anyio.from_thread.run`
on the app's event loop (never blocking it). Outside a worker thread (the CLI, a script) the
call gets its own event loop.

Exchange reads commit the request's transaction first (see `LiveServices._exchange`).

Invariant 4: about an address that is not the customer's own, the bot says only what the
public chain says (status, confirmations, explorer link) and nothing the exchange knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.bot.services import KbHit, ServiceAnswer
from kefu.chain import service as chain
from kefu.core.clock import utcnow
from kefu.core.errors import KefuError
from kefu.core.i18n import N_, translate
from kefu.core.settings import Settings
from kefu.exchange import service as exchange_service
from kefu.exchange.port import DepositAddress, Exchange, KycStage, Transfer
from kefu.exchange.port import TransferStatus as S
from kefu.exchange.service import run_port
from kefu.identity.models import Customer
from kefu.kb import search as kb_search
from kefu.kb import service as kb

log = logging.getLogger("kefu.bot")

T = TypeVar("T")

KB_LIMIT = 5

REPORTED_IN_CHAT = N_("Reported by the customer in the help chat.")
FROZEN = N_(
    "I have frozen your account to protect it: %(scopes)s are blocked until our security team "
    "has checked it with you."
)
FREEZE_PENDING = N_(
    "I could not freeze your account automatically; our security team is freezing it now."
)
FREEZE_SCOPE_NAMES = {
    "withdrawals": N_("withdrawals"),
    "trading": N_("trading"),
    "api_keys": N_("API keys"),
    "sessions": N_("signed-in sessions"),
    "all": N_("all account activity"),
}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


# --- wording ----------------------------------------------------------------------------------

TX_NOT_FOUND = N_(
    "I cannot find transaction %(txid)s on %(chain)s. Please check that the TXID and the "
    "network are right."
)
TX_FAILED = N_("Transaction %(txid)s failed on %(chain)s, so no funds were transferred.")
TX_PENDING = N_(
    "Transaction %(txid)s is on %(chain)s but not yet in a block. Deposits are credited after "
    "%(required)s confirmations."
)
TX_CONFIRMING = N_(
    "Transaction %(txid)s has %(confirmations)s of the %(required)s confirmations we need. "
    "It will be credited automatically once it reaches %(required)s."
)
TX_CREDITED = N_(
    "Transaction %(txid)s has %(confirmations)s confirmations and was credited to your "
    "account: %(amount)s %(asset)s."
)
TX_NOT_CREDITED = N_(
    "Transaction %(txid)s has %(confirmations)s confirmations and was sent to your deposit "
    "address, but it is not credited yet."
)
TX_NOT_YOURS = N_(
    "Transaction %(txid)s is %(status)s on %(chain)s with %(confirmations)s confirmations, "
    "but it did not pay any deposit address of your account."
)
TX_STATUS = {
    "pending": N_("waiting to be mined"),
    "confirmed": N_("confirmed"),
    "failed": N_("failed"),
}

DEPOSITS_IN_PROGRESS = N_("These deposits of yours are on their way:")
DEPOSIT_LINE = N_(
    "%(amount)s %(asset)s — %(confirmations)s of %(required)s confirmations (TXID %(txid)s)"
)
NO_WITHDRAWALS = N_("I cannot see any withdrawals on your account in the last 30 days.")
WITHDRAWALS = N_("Your recent withdrawals:")
WITHDRAWAL_LINE = N_("%(amount)s %(asset)s to %(address)s — %(status)s")
WITHDRAWAL_STATUS = {
    "pending": N_("accepted, waiting to be sent"),
    "confirming": N_("sent, waiting for confirmations"),
    "completed": N_("completed"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
}
WITHDRAWALS_HELD = N_(
    "Withdrawals on your account are on hold at the moment, so a colleague needs to look at it."
)
WITHDRAWAL_FAILED = N_("A withdrawal failed; a colleague will check what happened.")

KYC_STAGE = {
    KycStage.NOT_STARTED: N_(
        "You have not started identity verification yet (level %(level)s). You can start it "
        "in your account settings."
    ),
    KycStage.SUBMITTED: N_(
        "Your identity verification was submitted on %(submitted)s and is waiting for review "
        "(level %(level)s). Expected by %(expected)s."
    ),
    KycStage.UNDER_REVIEW: N_(
        "Your identity verification is under review since %(submitted)s (level %(level)s). "
        "Expected by %(expected)s."
    ),
    KycStage.APPROVED: N_("Your identity verification is approved: you are at level %(level)s."),
    KycStage.REJECTED: N_(
        "Your identity verification was not approved (level %(level)s). A colleague will "
        "explain why and what you can send instead."
    ),
}
KYC_OVERDUE = N_("It is taking longer than expected, so a colleague will look at it.")


class LiveServices:
    """`BotServices` over the knowledge base, the chain module and the exchange port.

    Each method returns None when its service is not available (no exchange, a chain without
    a backend, the backend or the exchange failing): the flow then hands off."""

    def __init__(self, settings: Settings, exchange: Exchange | None) -> None:
        self.settings = settings
        self.exchange = exchange

    # --- knowledge base ------------------------------------------------------------------------

    def search_kb(self, session: Session, query: str, language: str) -> list[KbHit] | None:
        hits = kb.search(session, query, language, KB_LIMIT)
        # `score` is a reciprocal-rank fusion score (rank only), not a probability: the order
        # is what counts, and the flow decides which article fits its intent.
        terms = set(kb_search.tokenize(query))
        return [
            KbHit(
                h.title,
                h.url,
                h.snippet,
                slug=h.slug,
                title_match=bool(terms & set(kb_search.tokenize(h.title))),
            )
            for h in hits
        ]

    def policy_answer(
        self, session: Session, customer: Customer, topic: str, language: str
    ) -> ServiceAnswer | None:
        template = kb.policy_template(session, customer.jurisdiction, topic, language)
        if template is None:
            return None
        rendered = kb.render_template(template, {})
        # Facts, the "not legal advice" line, the advice and the referral stay separate parts.
        return ServiceAnswer(
            rendered.text,
            facts={"policy_template": template.key, "jurisdiction": customer.jurisdiction},
        )

    # --- exchange port -------------------------------------------------------------------------

    def _exchange(
        self,
        session: Session,
        customer: Customer,
        call: Callable[[Exchange], Coroutine[Any, Any, T]],
        what: str,
    ) -> T | None:
        """`call` on the exchange for this customer, audited as a read by the bot."""
        exchange = self.exchange
        if exchange is None or not customer.external_id:
            return None
        # As the exchange routes do: release the request's transaction first. On SQLite the
        # demo exchange lives in the same file and every transaction takes the write lock
        # (BEGIN IMMEDIATE), so an open one here would block it. What is committed is the
        # customer's (already redacted) message and its audit entries.
        session.commit()
        try:
            result = run_port(call, exchange)
        except KefuError as exc:  # ExchangeError and its kin: a person takes over
            log.warning("exchange lookup failed for the bot: %s", exc.code)
            result = None
        record(
            session,
            Actor.bot(),
            f"bot.exchange_{what}_read",
            subject_type="customer",
            subject_id=customer.id,
            data={"found": result is not None},
        )
        return result

    def deposit_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        deposits = self._exchange(
            session,
            customer,
            lambda ex: ex.list_deposits(
                customer.external_id, since=_since(exchange_service.LOOKBACK)
            ),
            "deposits",
        )
        if deposits is None:
            return None
        open_ = [d for d in deposits if d.status in (S.PENDING, S.CONFIRMING)]
        if not open_:
            return ServiceAnswer("", facts={"open_deposits": 0})
        lines = [translate(DEPOSITS_IN_PROGRESS, language)]
        for d in open_[:5]:
            lines.append(
                "- "
                + translate(
                    DEPOSIT_LINE,
                    language,
                    amount=_amount(d),
                    asset=d.asset,
                    confirmations=d.confirmations,
                    required=d.confirmations_required,
                    txid=d.tx_hash or "-",
                )
            )
        return ServiceAnswer("\n".join(lines), facts={"open_deposits": len(open_)})

    def withdrawal_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        found = self._exchange(
            session,
            customer,
            lambda ex: exchange_service.withdrawal_status(ex, customer.external_id),
            "withdrawals",
        )
        if found is None:
            return None
        facts: dict[str, Any] = {"withdrawals": len(found.matches)}
        lines: list[str] = []
        if not found.matches:
            lines.append(translate(NO_WITHDRAWALS, language))
        else:
            lines.append(translate(WITHDRAWALS, language))
        link: str | None = None
        for check in found.matches[:5]:
            w = check.transfer
            line = "- " + translate(
                WITHDRAWAL_LINE,
                language,
                amount=_amount(w),
                asset=w.asset,
                address=w.address,
                status=translate(WITHDRAWAL_STATUS[w.status.value], language),
            )
            if w.status == S.CONFIRMING:
                line += f" ({w.confirmations}/{w.confirmations_required})"
            if w.tx_hash:
                tx_link = self._explorer_link(w.chain, w.tx_hash)
                line += f"\n  TXID {w.tx_hash}" + (f"\n  {tx_link}" if tx_link else "")
                link = link or tx_link
            lines.append(line)
        held = bool(found.frozen_scopes) or found.withdrawals_locked
        failed = any(c.transfer.status == S.FAILED for c in found.matches[:5])
        if held:
            lines.append(translate(WITHDRAWALS_HELD, language))
            facts["withdrawals_held"] = True
        elif failed:
            lines.append(translate(WITHDRAWAL_FAILED, language))
        if found.matches:
            latest = found.matches[0].transfer
            facts.update(
                latest_withdrawal=latest.id,
                latest_status=latest.status.value,
                latest_tx_hash=latest.tx_hash,
            )
        return ServiceAnswer("\n".join(lines), resolved=not (held or failed), facts=facts)

    def kyc_status(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        # Stage, level and expected time only: nothing in it is sensitive, so no step-up is
        # asked for (documents and reasons stay with the ID reviewers).
        state = self._exchange(
            session, customer, lambda ex: ex.get_kyc(customer.external_id), "kyc"
        )
        if state is None:
            return None
        text = translate(
            KYC_STAGE[state.stage],
            language,
            level=state.level,
            submitted=_when(state.submitted_at),
            expected=_when(state.expected_by) or "-",
        )
        overdue = (
            state.stage in (KycStage.SUBMITTED, KycStage.UNDER_REVIEW)
            and state.expected_by is not None
            and state.expected_by < _now()
        )
        if overdue:
            text += "\n" + translate(KYC_OVERDUE, language)
        facts = {"kyc_stage": state.stage.value, "kyc_level": state.level}
        return ServiceAnswer(
            text, resolved=state.stage != KycStage.REJECTED and not overdue, facts=facts
        )

    def report_compromise(
        self, session: Session, customer: Customer, language: str
    ) -> ServiceAnswer | None:
        """Freeze first: the security protocol freezes through the exchange port, opens the
        case with its urgent risk ticket and records the trace, before anything is said."""
        from kefu.security import service as security

        if self.exchange is None or not customer.external_id:
            return None
        outcome = security.report_compromise(
            session,
            self.exchange,
            customer=customer,
            actor=Actor.bot(),
            channel="bot",
            description=translate(REPORTED_IN_CHAT, language),
            settings=self.settings,
        )
        case = outcome.case
        facts: dict[str, Any] = {
            "security_case_id": case.id,
            "security_ticket_id": case.ticket_id,
            "freeze_state": case.freeze_state,
            "frozen_scopes": ", ".join(case.frozen_scopes or []),
        }
        if case.frozen_scopes:
            scopes = ", ".join(
                translate(FREEZE_SCOPE_NAMES[s], language) for s in case.frozen_scopes
            )
            return ServiceAnswer(translate(FROZEN, language, scopes=scopes), facts=facts)
        return ServiceAnswer(translate(FREEZE_PENDING, language), resolved=False, facts=facts)

    # --- chain ---------------------------------------------------------------------------------

    def _explorer_link(self, exchange_chain: str, tx_hash: str) -> str | None:
        name = self._chain_name(exchange_chain)
        if name is None:
            return None
        links = chain.explorer_links(self.settings.chains[name], txid=tx_hash)
        return links[0] if links else None

    def _chain_name(self, exchange_chain: str) -> str | None:
        """kefu names chains (`bitcoin`); exchanges name them by their native asset (`BTC`)."""
        wanted = exchange_chain.strip()
        for name, config in self.settings.chains.items():
            if name.lower() == wanted.lower() or config.asset.upper() == wanted.upper():
                return name
        return None

    def _on_chain(self, addresses: list[DepositAddress], chain_name: str) -> list[str]:
        return [a.address for a in addresses if self._chain_name(a.chain) == chain_name]

    def check_transaction(
        self, session: Session, customer: Customer, chain_name: str, tx_hash: str, language: str
    ) -> ServiceAnswer | None:
        if self.exchange is None or chain_name not in self.settings.chains:
            return None

        async def exchange_side(ex: Exchange) -> tuple[list[DepositAddress], list[Transfer]]:
            addresses = await ex.list_deposit_addresses(customer.external_id)
            deposits = await ex.list_deposits(customer.external_id)
            return addresses, deposits

        side = self._exchange(session, customer, exchange_side, "deposits")
        if side is None:
            return None
        addresses, deposits = side
        own = chain.SetOwnAddresses(
            {(customer.external_id, chain_name): self._on_chain(addresses, chain_name)}
        )
        viewer = chain.Viewer(
            actor=Actor.customer(customer.id),
            internal=False,
            customer_external_id=customer.external_id,
            own_addresses=own,
        )
        try:
            check = chain.check_transaction(
                session, self.settings, chain_name, tx_hash, viewer=viewer
            )
        except KefuError as exc:  # no backend, backend down or rate-limited, malformed txid
            log.warning("chain check failed for the bot: %s", exc.code)
            return None
        return _tx_answer(check, deposits, language)


def _tx_answer(check: chain.TxCheck, deposits: list[Transfer], language: str) -> ServiceAnswer:
    wanted = check.txid.lower().removeprefix("0x")
    record = next(
        (d for d in deposits if (d.tx_hash or "").lower().removeprefix("0x") == wanted), None
    )
    required = record.confirmations_required if record else None
    yours = any(t.yours for t in check.transfers)
    link = check.explorer_links[0] if check.explorer_links else None
    facts: dict[str, Any] = {
        "chain_status": check.status,
        "confirmations": check.confirmations,
        "to_own_address": yours,
        "explorer_link": link,
    }
    if required is not None:
        facts["confirmations_required"] = required
    if record is not None:
        facts["exchange_deposit"] = record.id
        facts["exchange_status"] = record.status.value
    params: dict[str, Any] = {
        "txid": check.txid,
        "chain": check.chain,
        "confirmations": check.confirmations,
        "required": required if required is not None else "-",
    }

    def answer(message: str, resolved: bool, **extra: Any) -> ServiceAnswer:
        text = translate(message, language, **{**params, **extra})
        return ServiceAnswer(text, resolved=resolved, link=link, facts=facts)

    if check.status == "not_found":
        return answer(TX_NOT_FOUND, False)
    if check.status == "failed":
        return answer(TX_FAILED, False)
    if not yours:
        # Invariant 4: only what the public chain says about someone else's address.
        status = translate(TX_STATUS.get(check.status, check.status), language)
        return answer(TX_NOT_YOURS, False, status=status)
    if record is not None and record.status == S.COMPLETED:
        return answer(TX_CREDITED, True, amount=_amount(record), asset=record.asset)
    if check.status == "pending" and required is not None:
        return answer(TX_PENDING, True)
    if required is not None and check.confirmations < required:
        return answer(TX_CONFIRMING, True)
    # Enough confirmations (or the exchange has no record of it) yet not credited: a person.
    return answer(TX_NOT_CREDITED, False)


def _amount(t: Transfer) -> str:
    return format(t.amount.normalize(), "f")


def _now() -> datetime:
    return utcnow()


def _since(delta: timedelta) -> datetime:
    return utcnow() - delta
