"""Many writers, one linear chain: the head row serialises appends on both engines."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.audit.models import AuditHead
from kefu.audit.service import Actor, record, verify
from kefu.core.db import session_factory
from tests.core.helpers import audit_entries, new_session

THREADS = 8
PER_THREAD = 25


def test_concurrent_appends_keep_the_chain_linear_and_dense(engine: Engine) -> None:
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    factory = session_factory(engine)

    def writer(n: int) -> None:
        try:
            start.wait()
            with factory() as s:
                for i in range(PER_THREAD):
                    record(s, Actor.system(), "test.concurrent", data={"thread": n, "i": i})
                    s.commit()
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    entries = audit_entries(engine)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    written = [e for e in entries if e.action == "test.concurrent"]
    assert len(written) == THREADS * PER_THREAD
    assert Counter(e.data["thread"] for e in written) == {n: PER_THREAD for n in range(THREADS)}
    for n in range(THREADS):
        mine = [e.data["i"] for e in written if e.data["thread"] == n]
        assert mine == list(range(PER_THREAD))
    with new_session(engine) as s:
        result = verify(s)
    assert result.ok, result
    assert result.checked == len(entries)


def test_a_long_lived_session_appends_after_other_writers(session: Session, engine: Engine) -> None:
    record(session, Actor.system(), "test.first")
    session.commit()
    # The caller still has the head loaded (e.g. it showed the chain tip to someone).
    tip = session.get(AuditHead, 1)
    assert tip is not None and tip.last_seq == 1
    session.commit()  # ends the read transaction; expire_on_commit=False keeps `tip` loaded

    with new_session(engine) as other:
        record(other, Actor.system(), "test.other")
        other.commit()

    entry = record(session, Actor.system(), "test.second")
    session.commit()

    assert entry.seq == 3
    with new_session(engine) as s:
        assert verify(s).ok
