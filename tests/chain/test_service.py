"""Transaction checks cached per block height: a confirmed transaction is fetched once and
its confirmations follow the tip; an unknown or pending one is asked again on a new block."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.chain import service
from kefu.core.settings import ChainConfig, Settings
from tests.chain.loopback import Reply, Request, esplora_handler, serve

TXID = "9d3ea0d131c45450c135d549b62032019bc47a80368e14edc72caf38f5a88033"
UNKNOWN = "cd" * 32


def test_cache_follows_the_tip(session: Session) -> None:
    tip = {"height": 875_700}

    def handler(request: Request) -> Reply:
        return esplora_handler(tip=tip["height"])(request)

    with serve(handler) as server:
        settings = Settings(
            database_url="sqlite://",
            chains={"bitcoin": ChainConfig(kind="esplora", url=server.url, retries=0)},
        )
        viewer = service.Viewer(Actor.system(), internal=False)

        def run(txid: str) -> service.TxCheck:
            return service.check_transaction(session, settings, "bitcoin", txid, viewer=viewer)

        def fetches(txid: str) -> int:
            return server.paths().count(f"/tx/{txid}")

        first = run(TXID)
        assert (first.confirmations, first.cached) == (99, False)
        tip["height"] += 10
        later = run(TXID)
        assert (later.confirmations, later.cached, later.tip_height) == (109, True, 875_710)
        assert fetches(TXID) == 1

        assert run(UNKNOWN).status == "not_found"
        assert run(UNKNOWN).cached is True
        assert fetches(UNKNOWN) == 1
        tip["height"] += 1  # a new block: the transaction may have arrived
        assert run(UNKNOWN).cached is False
        assert fetches(UNKNOWN) == 2

        # A tip below a cached block means a reorganisation: ask again.
        tip["height"] = 875_000
        assert run(TXID).cached is False
    session.commit()
