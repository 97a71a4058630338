"""Two editors writing the first translation of an article in one language at once."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.core.db import session_factory
from kefu.kb import service
from kefu.kb.models import ArticleTranslation, ArticleVersion
from kefu.kb.schemas import ArticleCreate, CategoryIn


def test_a_concurrent_first_translation_becomes_the_next_version(
    engine: Engine, session: Session
) -> None:
    service.save_category(session, CategoryIn(slug="fees", names={"en": "Fees"}), Actor.system())
    article = service.create_article(
        session, ArticleCreate(slug="withdrawal-fees", category="fees"), Actor.system()
    )
    session.commit()
    factory = session_factory(engine)
    first_written = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with factory() as s:
                mine = service.get_article(s, article.id)
                service.save_translation(s, mine, "en", "Fees", "One.", None, Actor.system())
                first_written.set()
                time.sleep(0.5)  # the second editor is now waiting on our uncommitted row
                s.commit()
        except BaseException as exc:
            first_written.set()
            errors.append(exc)

    def second() -> None:
        try:
            first_written.wait(10)
            with factory() as s:
                mine = service.get_article(s, article.id)
                service.save_translation(s, mine, "en", "Fees", "Two.", None, Actor.system())
                s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    session.expire_all()
    rows = session.scalars(
        select(ArticleTranslation).where(ArticleTranslation.article_id == article.id)
    ).all()
    assert len(rows) == 1 and rows[0].latest_version == 2
    bodies = session.scalars(
        select(ArticleVersion.body)
        .where(ArticleVersion.translation_id == rows[0].id)
        .order_by(ArticleVersion.version)
    ).all()
    assert bodies == ["One.", "Two."]
