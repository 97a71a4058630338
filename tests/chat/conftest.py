"""The chat's tests share the bot's intent model (trained once per run, see tests/bot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.core.settings import Settings


@pytest.fixture(scope="session")
def bot_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp().parent / "bot-model"


@pytest.fixture
def settings(database_url: str, bot_data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        embedded_worker=False,
        max_body_bytes=64_000,
        bot_data_dir=str(bot_data_dir),
        chat_allowed_origins=["https://www.exchange.example"],
        chat_hello_timeout_seconds=5,
        demo_pages=True,
    )
