"""Search relevance over the shipped starter content in Chinese and English, the
cross-language fallback, and that publishing refreshes every process's index."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.core.db import session_factory
from kefu.kb import service
from kefu.kb.loader import load_content
from kefu.kb.schemas import ArticleCreate, NewTranslation

EXPECTED = [
    ("充值没到账", "zh-CN", "deposit-not-credited"),
    ("提币手续费", "zh-CN", "withdrawal-fees"),
    ("账户被盗了怎么办", "zh-CN", "account-compromised"),
    ("爆仓了", "zh-CN", "futures-liquidation"),
    ("转错地址", "zh-CN", "wrong-address-transfer"),
    ("假客服让我转币", "zh-CN", "phishing-and-fake-support"),
    ("KYC 审核要多久", "zh-CN", "kyc-levels"),
    ("My deposit has not been credited", "en", "deposit-not-credited"),
    ("withdrawal fee", "en", "withdrawal-fees"),
    ("my account was hacked", "en", "account-compromised"),
    ("how many confirmations for bitcoin", "en", "deposit-confirmations"),
    ("forgot my password", "en", "reset-password"),
    ("isolated vs cross margin", "en", "futures-margin-modes"),
    ("I forgot the memo for my XRP deposit", "en", "deposit-memo-tag"),
    ("lightning invoice expired", "en", "lightning-network"),
]


@pytest.fixture
def loaded(session: Session) -> Session:
    load_content(session)
    session.commit()
    return session


def test_questions_in_chinese_and_english_find_their_article(loaded: Session) -> None:
    for query, language, slug in EXPECTED:
        hits = service.search(loaded, query, language)
        assert hits, query
        assert hits[0].slug == slug, (query, [h.slug for h in hits])
        assert hits[0].language == language
        assert hits[0].url == f"/kb/{language}/{slug}"
        assert hits[0].title and hits[0].snippet and hits[0].score > 0
        assert len({h.article_id for h in hits}) == len(hits) <= 5


def test_search_endpoint_is_public(client: TestClient, loaded: Session) -> None:
    # No language given: a Chinese question is answered from the Chinese articles, an
    # English one from the language Accept-Language asks for.
    zh = client.get("/api/v1/kb/public/search", params={"q": "充值没到账", "limit": 3}).json()
    assert zh[0]["slug"] == "deposit-not-credited" and zh[0]["language"] == "zh-CN"
    assert len(zh) <= 3
    en = client.get(
        "/api/v1/kb/public/search",
        params={"q": "withdrawal fee"},
        headers={"Accept-Language": "en-US"},
    ).json()
    assert en[0]["slug"] == "withdrawal-fees" and en[0]["language"] == "en"
    assert set(en[0]) == {"article_id", "slug", "language", "title", "snippet", "score", "url"}
    assert client.get("/api/v1/kb/public/search", params={"q": "x", "limit": 99}).status_code == 422


def test_an_article_missing_in_the_asked_language_is_found_in_another(
    loaded: Session, engine: Engine
) -> None:
    actor = Actor.system()
    article = service.create_article(
        loaded,
        ArticleCreate(
            slug="staking-rewards",
            category="blockchain-basics",
            translations=[
                NewTranslation(
                    language="en",
                    title="Staking rewards schedule",
                    body="Staking rewards for ETH are paid daily at 08:00 UTC.",
                )
            ],
        ),
        actor,
    )
    service.publish(loaded, article, "en", None, actor)
    loaded.commit()
    hits = service.search(loaded, "staking rewards", "zh-CN")
    assert hits[0].slug == "staking-rewards" and hits[0].language == "en"
    # Articles that exist in Chinese are still returned in Chinese.
    assert all(h.language == "zh-CN" for h in service.search(loaded, "充值", "zh-CN"))


def test_publishing_refreshes_the_index_of_every_process(loaded: Session, engine: Engine) -> None:
    assert service.search(loaded, "quantum ledger escrow", "en") == []
    loaded.rollback()  # a request ends its transaction (SQLite: frees the write lock)
    with session_factory(engine)() as other:  # as another worker would
        actor = Actor.system()
        article = service.create_article(
            other,
            ArticleCreate(
                slug="quantum-ledger-escrow",
                category="deposits",
                translations=[
                    NewTranslation(
                        language="en",
                        title="Quantum ledger escrow",
                        body="How the quantum ledger escrow holds deposits.",
                    )
                ],
            ),
            actor,
        )
        other.commit()
        assert service.search(loaded, "quantum ledger escrow", "en") == []  # still a draft
        loaded.rollback()
        service.publish(other, article, "en", None, actor)
        other.commit()
    loaded.rollback()  # end the reader's transaction, as a new request would
    hits = service.search(loaded, "quantum ledger escrow", "en")
    assert hits and hits[0].slug == "quantum-ledger-escrow"
