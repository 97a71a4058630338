"""Browser tests: Playwright drives Debian's Chromium (headless) against kefu running as a real
server process (`kefu.testing.live.LiveServer`) on a database seeded with the demo data.

- `live_server`: one worker on a seeded SQLite file, shared by the tests of a module.
- `pg_live_servers`: two workers on one seeded PostgreSQL database (fan-out between workers).
- `make_live_server(engine)`: a fresh server on a fresh seeded copy, for tests that need one.
- `new_page(locale)`: a page in a fresh browser context; a test fails if the page breaks its
  Content-Security-Policy or throws an uncaught script error.
- `shoot(page, name)`: a full-page screenshot in test-artifacts/screenshots/ for review.
- `axe_violations(page)`: serious and critical findings of axe-core on the current page.
- `demo_totp(email)`: a fresh authenticator code for a demo agent (never one already used).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from kefu.core.db import make_engine, session_scope
from kefu.core.settings import Settings
from kefu.migrations import upgrade
from kefu.testing.live import LiveServer
from kefu.testing.postgres import PostgresCluster
from tests.browser.helpers import DemoTotp

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("KEFU_SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
AXE = ROOT / "tools" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("KEFU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Chromium flags for a closed network: no background calls home, no sandbox under root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_TICKETS = 40


# --- the server --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bot_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bot's intent model, trained once for the whole run (shared with tests/bot)."""
    from kefu.bot.service import classifier

    path = tmp_path_factory.getbasetemp().parent / "bot-model"
    path.mkdir(exist_ok=True)
    with (path.parent / "bot-model.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers train it once, not once each
        classifier(Settings(bot_data_dir=str(path)))
    return path


def _seed(database_url: str) -> None:
    from kefu.demo.seed import seed_demo
    from kefu.wiring import wire

    upgrade(database_url)
    wire()
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            seed_demo(session, tickets=DEMO_TICKETS, base_url="http://127.0.0.1")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "demo.db"
    _seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _seeded_pg(pg_cluster: PostgresCluster) -> str:
    name = f"kefu_demo_{os.getpid()}"
    _seed(pg_cluster.create_database(name))
    return name


def _server_env(bot_model_dir: Path) -> dict[str, str]:
    return {"KEFU_BOT_DATA_DIR": str(bot_model_dir)}


class LiveServerFactory:
    """Starts kefu on fresh seeded copies of the demo database; stops them after the test."""

    def __init__(
        self, request: pytest.FixtureRequest, tmp: pytest.TempPathFactory, bot_model_dir: Path
    ) -> None:
        self._request, self._tmp, self._bot_model_dir = request, tmp, bot_model_dir
        self.started: list[LiveServer] = []

    def __call__(self, engine: str = "sqlite", *, env: dict[str, str] | None = None) -> LiveServer:
        return self.many(engine, 1, env=env)[0]

    def many(
        self, engine: str, workers: int, *, env: dict[str, str] | None = None
    ) -> list[LiveServer]:
        """`workers` processes on one database ("postgresql" for more than one)."""
        folder = self._tmp.mktemp("live")
        if engine == "sqlite":
            seeded: Path = self._request.getfixturevalue("_seeded_sqlite")
            target = folder / "kefu.db"
            shutil.copyfile(seeded, target)
            url = f"sqlite:///{target}"
        else:
            url = _pg_copy(self._request, folder.name)
        servers = []
        for n in range(workers):
            server = LiveServer(
                url,
                log_path=folder / f"server-{n}.log",
                env={**_server_env(self._bot_model_dir), **(env or {})},
            )
            self.started.append(server)
            servers.append(server.start())
        return servers


def _pg_copy(request: pytest.FixtureRequest, suffix: str) -> str:
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    template: str = request.getfixturevalue("_seeded_pg")
    name = f"{template}_{suffix}".replace("-", "_")[:60]
    with psycopg.connect(cluster.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return cluster.url(name)


@pytest.fixture
def make_live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, bot_model_dir: Path
) -> Iterator[LiveServerFactory]:
    """`make_live_server("sqlite")`, or `make_live_server.many("postgresql", 2)`."""
    factory = LiveServerFactory(request, tmp_path_factory, bot_model_dir)
    yield factory
    for server in factory.started:
        server.stop()


@pytest.fixture(scope="module")
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, bot_model_dir: Path
) -> Iterator[LiveServer]:
    """kefu on a seeded SQLite copy, shared by the tests of one module."""
    folder = tmp_path_factory.mktemp("live")
    seeded: Path = request.getfixturevalue("_seeded_sqlite")
    target = folder / "kefu.db"
    shutil.copyfile(seeded, target)
    server = LiveServer(
        f"sqlite:///{target}", log_path=folder / "server.log", env=_server_env(bot_model_dir)
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def pg_live_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, bot_model_dir: Path
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two kefu workers (two processes, two ports) on one seeded PostgreSQL database."""
    folder = tmp_path_factory.mktemp("live-pg")
    url = _pg_copy(request, folder.name)
    env = _server_env(bot_model_dir)
    first = LiveServer(url, log_path=folder / "server-a.log", env=env)
    second = LiveServer(url, log_path=folder / "server-b.log", env=env)
    with first, second:
        yield first, second


@pytest.fixture(scope="session")
def demo_totp() -> DemoTotp:
    return DemoTotp()


# --- the browser -------------------------------------------------------------------------------


# Per module, not per session: while the sync API is open its event loop counts as running in
# this thread, so a later test in the same worker that calls asyncio.run() (the exchange port,
# the disputes module) would fail with "Cannot run the event loop while another loop is
# running". Closing it after each browser module hands the thread back.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """`new_page("zh-CN")` opens a page whose browser speaks that language. After the test,
    any CSP violation or uncaught script error on any page fails it."""
    contexts = []
    problems: list[str] = []

    def make(locale: str = "en", **options: Any) -> Page:
        context = browser.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()

        def on_console(message: Any) -> None:
            if "Content Security Policy" in message.text:
                problems.append(f"{page.url}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not problems, "the page broke its CSP or threw:\n" + "\n".join(problems)


@pytest.fixture
def shoot() -> Callable[[Page, str], Path]:
    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def _axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run scripts/install-system-deps.sh")
    return AXE.read_text()


@pytest.fixture
def axe_violations(_axe_source: str) -> Callable[..., list[dict[str, Any]]]:
    """Serious and critical axe-core (WCAG 2.x A/AA) findings on the page as it is now.
    Evaluated through the DevTools protocol, so the page's own CSP stays on."""

    def run(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
        page.evaluate(_axe_source)
        found: list[dict[str, Any]] = page.evaluate(
            """async () => {
                const result = await axe.run(document, {
                    // No CSSOM preload: it copies shadow-root stylesheets (the chat widget's)
                    // into an inline <style>, which the page's CSP rightly refuses.
                    preload: false,
                    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                    resultTypes: ["violations"],
                });
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
                }));
            }"""
        )
        return [v for v in found if v["impact"] in impacts]

    return run
