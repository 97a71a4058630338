"""The bot's flows on the REAL services, end to end through the chat API in English and
Chinese: the knowledge base's starter content and policy templates, the demo exchange
(deposits, withdrawals, KYC) and a chain backend on loopback (the recorded Esplora answers
of tests/chain). Answers carry the real facts; what the bot cannot resolve is handed off
with its findings attached."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.audit.models import AuditEntry
from kefu.core.clock import utcnow
from kefu.core.settings import ChainConfig, Settings
from kefu.exchange.demo_data import open_demo_account
from kefu.exchange.models import DemoDepositAddress, DemoTransfer
from kefu.identity.models import Customer
from kefu.kb.loader import load_content
from kefu.tickets.models import MessageKind
from tests.bot.test_chat_api import chat, ticket_of
from tests.chain.conftest import Anvil, anvil  # noqa: F401  (the session's anvil fixture)
from tests.chain.loopback import Loopback, esplora_handler, serve
from tests.core.helpers import new_session
from tests.factories import make_customer

# A real mainnet transaction (recorded in tests/chain/fixtures/esplora): block 875602, paying
# 57000 sat to DEPOSIT_BTC. The loopback Esplora answers with tip 875700 (99 confirmations).
TXID = "9d3ea0d131c45450c135d549b62032019bc47a80368e14edc72caf38f5a88033"
DEPOSIT_BTC = "bc1q9yhuu4yty2xd8hmrxnw4yhavvtn7khm62uw38p"
OTHER_BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
ETH_TX = "0x" + "b2" * 32
ETH_TO = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture
def esplora() -> Iterator[Loopback]:
    with serve(esplora_handler(tip=875_700)) as server:
        yield server


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, database_url: str, bot_data_dir: Path, esplora: Loopback
) -> Settings:
    chains = Settings().chains
    if "anvil" in request.fixturenames:  # the test asked for a real local Ethereum node
        node: Anvil = request.getfixturevalue("anvil")
        chains["ethereum"] = ChainConfig(
            kind="evm",
            asset="ETH",
            url=node.url,
            retries=0,
            explorer_tx_urls=["https://etherscan.io/tx/{txid}"],
        )
    chains["bitcoin"] = ChainConfig(
        kind="esplora",
        url=esplora.url,
        retries=0,
        timeout_seconds=5,
        explorer_tx_urls=["https://mempool.space/tx/{txid}"],
    )
    return Settings(
        database_url=database_url,
        embedded_worker=False,
        max_body_bytes=64_000,
        bot_data_dir=str(bot_data_dir),
        chains=chains,
    )


def customer_with_account(
    session: Session, language: str, *, jurisdiction: str = "SG", **kyc: Any
) -> Customer:
    customer = make_customer(session, language=language, jurisdiction=jurisdiction)
    open_demo_account(
        session,
        customer.external_id,
        jurisdiction,
        created_at=utcnow() - timedelta(days=200),
        balances={"BTC": Decimal("0.5")},
        **kyc,
    )
    session.commit()
    return customer


def add_address(session: Session, customer: Customer, asset: str, chain: str, address: str) -> None:
    session.add(
        DemoDepositAddress(
            external_id=customer.external_id, asset=asset, chain=chain, address=address
        )
    )
    session.commit()


def add_transfer(session: Session, customer: Customer, direction: str, **values: Any) -> None:
    fields: dict[str, Any] = {
        "asset": "BTC",
        "chain": "BTC",
        "amount": Decimal("0.00057"),
        "fee": Decimal(0),
        "address": DEPOSIT_BTC,
        "tx_hash": TXID,
        "status": "completed",
        "confirmations": 2,
        "confirmations_required": 2,
        "created_at": utcnow() - timedelta(hours=2),
        "completed_at": None,
    }
    fields.update(values)
    session.add(DemoTransfer(external_id=customer.external_id, direction=direction, **fields))
    session.commit()


def note_of(engine: Engine, ticket_id: str) -> str:
    _, messages = ticket_of(engine, ticket_id)
    return next(m for m in messages if m.kind == MessageKind.INTERNAL_NOTE).body


def bodies(exchange: dict[str, Any]) -> str:
    return "\n".join(r["body"] for r in exchange["replies"])


DEPOSIT = {"en": "my deposit hasn't arrived", "zh-CN": "我的充值没到账"}
LANGUAGES = ["en", "zh-CN"]


# --- chain checks: deposit_missing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "99 confirmations and was credited"), ("zh-CN", "99 个确认")],
)
def test_a_credited_deposit_is_answered_with_the_chain_facts_and_a_link(
    client: TestClient, session: Session, language: str, expected: str
) -> None:
    customer = customer_with_account(session, language)
    add_address(session, customer, "BTC", "BTC", DEPOSIT_BTC)
    add_transfer(session, customer, "deposit", completed_at=utcnow())
    _, (asked, answered) = chat(client, customer, DEPOSIT[language], TXID)
    assert asked["intent"] == "deposit_missing" and asked["handoff"] is None
    text = bodies(answered)
    assert expected in text and "0.00057 BTC" in text
    assert f"https://mempool.space/tx/{TXID}" in text
    assert answered["handoff"] is None and answered["status"] == "bot"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_deposit_still_confirming_shows_its_progress(
    client: TestClient, session: Session, language: str
) -> None:
    customer = customer_with_account(session, language)
    add_address(session, customer, "BTC", "BTC", DEPOSIT_BTC)
    # The exchange wants more confirmations than the chain has (99 of 120).
    add_transfer(
        session, customer, "deposit", status="confirming", confirmations=99,
        confirmations_required=120,
    )  # fmt: skip
    _, (asked, answered) = chat(client, customer, DEPOSIT[language], TXID)
    # First turn: the exchange's open deposits are shown before asking for a hash.
    first = bodies(asked)
    assert "0.00057 BTC" in first and "99" in first and "120" in first and TXID in first
    text = bodies(answered)
    assert "99" in text and "120" in text and f"https://mempool.space/tx/{TXID}" in text
    assert answered["handoff"] is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_enough_confirmations_but_not_credited_hands_off_with_the_findings(
    client: TestClient, engine: Engine, session: Session, language: str
) -> None:
    customer = customer_with_account(session, language)
    add_address(session, customer, "BTC", "BTC", DEPOSIT_BTC)  # the exchange has no record
    _, (_, answered) = chat(client, customer, DEPOSIT[language], TXID)
    handoff = answered["handoff"]
    assert handoff is not None and handoff["reason"] == "unresolved"
    assert handoff["queue"] == f"support:{language}"
    assert "99" in bodies(answered) and f"https://mempool.space/tx/{TXID}" in bodies(answered)
    note = note_of(engine, handoff["ticket_id"])
    for fact in (
        f"fact tx_hash: {TXID}",
        "fact chain: bitcoin",
        "fact chain_status: confirmed",
        "fact confirmations: 99",
        "fact to_own_address: True",
        f"fact explorer_link: https://mempool.space/tx/{TXID}",
    ):
        assert fact in note, note


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "did not pay any deposit address of your account"), ("zh-CN", "没有付到您账户")],
)
def test_a_transaction_to_someone_elses_address_gets_only_public_chain_facts(
    client: TestClient, engine: Engine, session: Session, language: str, expected: str
) -> None:
    customer = customer_with_account(session, language)
    add_address(session, customer, "BTC", "BTC", OTHER_BTC)
    _, (_, answered) = chat(client, customer, DEPOSIT[language], TXID)
    text = bodies(answered)
    assert expected in text and "99" in text
    # Invariant 4: nothing about who owns the address it paid, not even the address itself.
    assert DEPOSIT_BTC not in text and "57000" not in text
    handoff = answered["handoff"]
    assert handoff is not None and handoff["reason"] == "unresolved"
    assert "fact to_own_address: False" in note_of(engine, handoff["ticket_id"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unknown_transaction_hands_off_saying_the_chain_does_not_know_it(
    client: TestClient, engine: Engine, session: Session, language: str
) -> None:
    customer = customer_with_account(session, language)
    add_address(session, customer, "BTC", "BTC", DEPOSIT_BTC)
    unknown = "ab" * 32
    _, (_, answered) = chat(client, customer, DEPOSIT[language], unknown)
    assert unknown in bodies(answered)
    handoff = answered["handoff"]
    assert handoff is not None and handoff["reason"] == "unresolved"
    assert "fact chain_status: not_found" in note_of(engine, handoff["ticket_id"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_ether_deposit_is_checked_on_a_real_node(
    client: TestClient,
    session: Session,
    anvil: Anvil,  # noqa: F811  (the fixture imported above)
    language: str,
) -> None:
    alice, bob = anvil.rpc("eth_accounts")[:2]
    txhash = anvil.send(**{"from": alice, "to": bob, "value": hex(15 * 10**17)})
    anvil.mine(2)
    block = int(anvil.receipt(txhash)["blockNumber"], 16)
    confirmations = int(anvil.rpc("eth_blockNumber"), 16) - block + 1
    customer = customer_with_account(session, language)
    add_address(session, customer, "ETH", "ETH", bob)
    add_transfer(
        session, customer, "deposit", asset="ETH", chain="ETH", amount=Decimal("1.5"),
        address=bob, tx_hash=txhash, status="confirming", confirmations=confirmations,
        confirmations_required=1000,
    )  # fmt: skip
    _, (_, answered) = chat(client, customer, DEPOSIT[language], txhash)
    text = bodies(answered)
    assert f"{confirmations} " in text and "1000" in text, text
    assert f"https://etherscan.io/tx/{txhash}" in text
    assert answered["handoff"] is None


def test_a_chain_without_a_backend_hands_off_as_unavailable(
    client: TestClient, engine: Engine, session: Session
) -> None:
    customer = customer_with_account(session, "en")
    _, (_, answered) = chat(client, customer, DEPOSIT["en"], ETH_TX)  # ethereum: no url set
    assert answered["handoff"]["reason"] == "service_unavailable"
    assert f"fact tx_hash: {ETH_TX}" in note_of(engine, answered["handoff"]["ticket_id"])


# --- exchange: withdrawals and KYC -----------------------------------------------------------

WITHDRAWAL = {"en": "withdrawal still pending", "zh-CN": "提币一直pending"}


@pytest.mark.parametrize(("language", "status"), [("en", "completed"), ("zh-CN", "已完成")])
def test_withdrawal_status_lists_the_withdrawals_with_their_txid_and_link(
    client: TestClient, session: Session, language: str, status: str
) -> None:
    customer = customer_with_account(session, language)
    add_transfer(
        session, customer, "withdrawal", asset="ETH", chain="ETH", amount=Decimal("1.25"),
        address=ETH_TO, tx_hash=ETH_TX, status="completed", confirmations=64,
        confirmations_required=64, completed_at=utcnow(),
    )  # fmt: skip
    _, (answered,) = chat(client, customer, WITHDRAWAL[language])
    assert answered["intent"] == "withdrawal_status"
    text = bodies(answered)
    assert "1.25 ETH" in text and ETH_TO in text and status in text
    assert ETH_TX in text and f"https://etherscan.io/tx/{ETH_TX}" in text
    assert answered["handoff"] is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_withdrawals_held_by_a_freeze_hand_off_with_the_facts(
    client: TestClient, engine: Engine, session: Session, language: str
) -> None:
    customer = customer_with_account(session, language)
    add_transfer(
        session, customer, "withdrawal", status="pending", tx_hash=None, confirmations=0,
        address=OTHER_BTC,
    )  # fmt: skip
    with new_session(engine) as s:
        from kefu.exchange.models import DemoAccount

        account = s.get(DemoAccount, customer.external_id)
        assert account is not None
        account.frozen_scopes = ["withdrawals"]
        s.commit()
    _, (answered,) = chat(client, customer, WITHDRAWAL[language])
    handoff = answered["handoff"]
    assert handoff is not None and handoff["reason"] == "unresolved"
    assert "0.00057 BTC" in bodies(answered)
    note = note_of(engine, handoff["ticket_id"])
    assert "fact withdrawals_held: True" in note and "fact latest_status: pending" in note


KYC = {"en": "my identity verification is still pending", "zh-CN": "kyc审核好慢啊"}


@pytest.mark.parametrize(("language", "expected"), [("en", "under review"), ("zh-CN", "审核中")])
def test_kyc_status_gives_the_stage_and_expected_time(
    client: TestClient, session: Session, language: str, expected: str
) -> None:
    expected_by = utcnow() + timedelta(hours=30)
    customer = customer_with_account(session, language, kyc_level=1, kyc_stage="under_review")
    with new_session(session.get_bind()) as s:  # type: ignore[arg-type]
        from kefu.exchange.models import DemoAccount

        account = s.get(DemoAccount, customer.external_id)
        assert account is not None
        account.kyc_expected_by = expected_by
        s.commit()
    _, (answered,) = chat(client, customer, KYC[language])
    assert answered["intent"] == "kyc_status"
    text = bodies(answered)
    assert expected in text and expected_by.strftime("%Y-%m-%d %H:%M UTC") in text
    assert answered["handoff"] is None
    with new_session(session.get_bind()) as s:  # type: ignore[arg-type]
        reads = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "bot.exchange_kyc_read", AuditEntry.subject_id == customer.id
            )
        ).all()
        assert len(reads) == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_rejected_verification_hands_off(
    client: TestClient, engine: Engine, session: Session, language: str
) -> None:
    customer = customer_with_account(session, language, kyc_level=0, kyc_stage="rejected")
    _, (answered,) = chat(client, customer, KYC[language])
    handoff = answered["handoff"]
    assert handoff is not None and handoff["reason"] == "unresolved"
    assert "fact kyc_stage: rejected" in note_of(engine, handoff["ticket_id"])


def test_a_customer_unknown_to_the_exchange_is_handed_off(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session, language="en")  # no account on the exchange
    _, (answered,) = chat(client, customer, KYC["en"])
    assert answered["handoff"]["reason"] == "service_unavailable"


# --- knowledge base and policy templates -----------------------------------------------------


def test_knowledge_flows_answer_with_the_article_and_policies_from_templates(
    client: TestClient, engine: Engine, session: Session
) -> None:
    report = load_content(session)
    session.commit()
    assert not report.problems
    en = customer_with_account(session, "en")
    zh = customer_with_account(session, "zh-CN")

    for customer, text, url in (
        (en, "how do I reset my password", "/kb/en/reset-password"),
        (zh, "登陆密码忘记了怎么找回", "/kb/zh-CN/reset-password"),
        (en, "how much is the withdrawal fee", "/kb/en/withdrawal-fees"),
        (zh, "提币手续费怎么算", "/kb/zh-CN/withdrawal-fees"),
    ):
        _, (answered,) = chat(client, customer, text)
        assert url in bodies(answered), (text, bodies(answered))
        assert answered["handoff"] is None
        assert len(answered["replies"][-1]["body"].splitlines()) >= 3  # title, snippet, link

    # Wrong address: straight to the risk queue, with the irreversibility article.
    for customer, text, url in (
        (en, "I sent crypto to the wrong address", "/kb/en/wrong-address-transfer"),
        (zh, "我转错地址了", "/kb/zh-CN/wrong-address-transfer"),
    ):
        _, (answered,) = chat(client, customer, text)
        assert answered["handoff"]["reason"] == "risky_intent"
        assert url in bodies(answered)

    # KYC: the stage from the exchange, then the article explaining the levels.
    for customer, text, url in (
        (en, "how long does kyc take", "/kb/en/kyc-levels"),
        (zh, "kyc审核好慢啊", "/kb/zh-CN/kyc-levels"),
    ):
        _, (answered,) = chat(client, customer, text)
        assert answered["intent"] == "kyc_status"
        body = bodies(answered)
        assert url in body and ("level 2" in body or "等级 2" in body), body

    # Policy: the customer's jurisdiction's template, facts then "not legal advice" then advice.
    for customer, text, facts, disclaimer in (
        (en, "are you licensed", "Monetary Authority of Singapore", "not legal advice"),
        (zh, "反洗钱政策", "新加坡金融管理局", "法律意见"),
    ):
        _, (answered,) = chat(client, customer, text)
        body = bodies(answered)
        assert answered["intent"] == "policy_question", body
        assert facts in body and disclaimer in body
        assert body.index(facts) < body.index(disclaimer)
        assert answered["handoff"] is None

    # No template for this jurisdiction: compliance takes it, with the jurisdiction.
    fr = customer_with_account(session, "en", jurisdiction="FR")
    _, (answered,) = chat(client, fr, "are you licensed")
    handoff = answered["handoff"]
    assert handoff is not None and handoff["reason"] == "no_policy_template"
    assert handoff["queue"].startswith("compliance")
    note = note_of(engine, handoff["ticket_id"])
    assert "fact jurisdiction: FR" in note and "fact policy_topic: regulation" in note

    # Questions no intent covers get the article whose title they name; others still don't.
    for customer, text, url in (
        (en, "what is segwit", "/kb/en/segwit-addresses"),
        (zh, "假客服怎么识别", "/kb/zh-CN/phishing-and-fake-support"),
        (zh, "杀猪盘是什么", "/kb/zh-CN/investment-scams"),
    ):
        _, (answered,) = chat(client, customer, text)
        assert url in bodies(answered), bodies(answered)
        assert answered["handoff"] is None
    _, (answered,) = chat(client, en, "tell me a joke")
    assert "/kb/" not in bodies(answered) and answered["handoff"] is None

    # Visitors without a sign-in get the article too.
    response = client.post(
        "/api/v1/bot/public/messages", json={"text": "how much is the withdrawal fee"}
    )
    assert response.status_code == 200
    assert "/kb/en/withdrawal-fees" in "\n".join(response.json()["replies"])


@pytest.mark.parametrize(
    ("language", "text", "frozen_word"),
    [("en", "my account was hacked", "frozen"), ("zh-CN", "我的账号被盗了", "冻结")],
)
def test_a_compromise_report_freezes_first_and_the_chat_joins_the_case_ticket(
    client: TestClient, session: Session, engine: Engine, language: str, text: str, frozen_word: str
) -> None:
    import anyio

    from kefu.exchange.adapters.demo import DemoExchange
    from kefu.exchange.errors import AccountFrozen
    from kefu.exchange.port import WithdrawalRequest
    from kefu.security.models import SecurityCase
    from kefu.tickets.models import Ticket

    customer = customer_with_account(session, language)
    _, (answered,) = chat(client, customer, text)

    # The freeze happened inside the chat request, before any person looked.
    request = WithdrawalRequest(
        asset="BTC", chain="BTC", amount=Decimal("0.1"), address=DEPOSIT_BTC
    )
    with pytest.raises(AccountFrozen):
        anyio.run(DemoExchange(engine).request_withdrawal, customer.external_id, request)
    assert frozen_word in answered["replies"][0]["body"], answered["replies"]

    with new_session(engine) as s:
        case = s.scalars(select(SecurityCase).where(SecurityCase.customer_id == customer.id)).one()
        assert case.freeze_state == "frozen"
        assert set(case.frozen_scopes) == {"withdrawals", "api_keys", "sessions"}
        # One ticket: the handoff joined the case's urgent risk ticket instead of a second one.
        assert answered["handoff"]["ticket_id"] == case.ticket_id
        tickets = s.scalars(select(Ticket).where(Ticket.customer_id == customer.id)).all()
        assert [t.id for t in tickets] == [case.ticket_id]
        assert tickets[0].tier == "risk" and tickets[0].priority == "urgent"
    _, messages = ticket_of(engine, case.ticket_id)
    assert any(text in m.body for m in messages), "the chat transcript is on the case ticket"
