"""One settings object, read from `KEFU_*` environment variables and an optional TOML file.

The TOML file is named by `KEFU_CONFIG`; environment variables win over it so that a
deployment can override a single value without editing the file.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the `[kefu]` table (or the top level) of the file named by `KEFU_CONFIG`."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("KEFU_CONFIG")
        if not path:
            return {}
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        table = data.get("kefu", data)
        return dict(table) if isinstance(table, dict) else {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore")

    database_url: str = "sqlite:///./kefu.db"
    host: str = "127.0.0.1"
    port: int = 8000
    default_language: str = "en"
    supported_languages: list[str] = Field(default_factory=lambda: ["en", "zh-CN"])
    # Largest request body accepted by the API; larger bodies get 413 before they are read.
    max_body_bytes: int = 1_000_000
    agent_session_hours: int = 12
    # Password guessing: this many failed sign-ins for one email locks it for the window.
    sign_in_max_failures: int = 5
    sign_in_lockout_minutes: int = 15
    # Shared secret with which the exchange signs customer tokens (HMAC-SHA256).
    customer_token_secret: str = "change-me-demo-secret"  # noqa: S105
    # Key for data encrypted at rest (TOTP seeds, ID documents): 32 bytes, URL-safe base64.
    # The demo default is public; a deployment must set its own (`kefu keygen` prints one).
    data_encryption_key: str = "ZGVtby1rZXktbmV2ZXItdXNlLWluLXByb2R1Y3Rpb24="
    # Earlier keys, still accepted for decryption after a rotation.
    data_encryption_old_keys: list[str] = Field(default_factory=list)
    # Tokens whose expiry lies further ahead than this are refused.
    customer_token_max_hours: int = 24
    # Run the SLA job inside the web process (the embedded default); production runs `kefu worker`.
    embedded_worker: bool = True
    sla_scan_seconds: int = 60
    log_level: str = "INFO"
    # Where `kefu bot train` writes the intent model (trained on first use when missing).
    bot_data_dir: str = "./kefu-data/bot"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls), file_secret_settings)


@lru_cache
def get_settings() -> Settings:
    return Settings()
