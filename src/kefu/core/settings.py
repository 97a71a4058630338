"""One settings object, read from `KEFU_*` environment variables and an optional TOML file.

The TOML file is named by `KEFU_CONFIG`; environment variables win over it so that a
deployment can override a single value without editing the file.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
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


class ChainConfig(BaseModel):
    """One chain kefu can check transactions on, and the backend it asks."""

    kind: Literal["esplora", "bitcoind", "evm"]
    # Empty: the chain is known (links, proofs) but has no backend; checks answer 503.
    url: str = ""
    timeout_seconds: float = 10.0
    retries: int = 2
    backoff_seconds: float = 0.5
    rpc_user: str = ""
    rpc_password: str = ""
    asset: str = "BTC"
    # Bech32 prefix of a Bitcoin-family chain: bc (mainnet), tb (testnet/signet), bcrt (regtest).
    hrp: str = "bc"
    # Explorer deep links; {txid} and {address} are filled in.
    explorer_tx_urls: list[str] = Field(default_factory=list)
    explorer_address_urls: list[str] = Field(default_factory=list)

    @property
    def family(self) -> str:
        return "evm" if self.kind == "evm" else "bitcoin"


def _default_chains() -> dict[str, ChainConfig]:
    return {
        "bitcoin": ChainConfig(
            kind="esplora",
            url="https://blockstream.info/api",
            explorer_tx_urls=[
                "https://mempool.space/tx/{txid}",
                "https://blockstream.info/tx/{txid}",
            ],
            explorer_address_urls=["https://mempool.space/address/{address}"],
        ),
        "ethereum": ChainConfig(
            kind="evm",
            asset="ETH",
            explorer_tx_urls=["https://etherscan.io/tx/{txid}"],
            explorer_address_urls=["https://etherscan.io/address/{address}"],
        ),
    }


FreezeScopeName = Literal["withdrawals", "trading", "api_keys", "sessions", "all"]
_DEFAULT_FREEZE_SCOPES: tuple[FreezeScopeName, ...] = ("withdrawals", "api_keys", "sessions")


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
    # --- second factors and step-up (kefu.identity.mfa) ---
    # Agent roles that must prove a second factor at every sign-in (default: every role).
    mfa_required_roles: list[str] = Field(
        default_factory=lambda: [
            "agent",
            "supervisor",
            "risk_officer",
            "compliance_officer",
            "admin",
        ]
    )
    # Wrong codes (TOTP, recovery, SMS) per person that lock their second factor, and for how long.
    mfa_max_failures: int = 5
    mfa_lockout_minutes: int = 15
    totp_issuer: str = "kefu"
    recovery_code_count: int = 10
    # SMS one-time codes: lifetime, sends per phone number per hour, wrong tries per code.
    sms_code_minutes: int = 5
    sms_max_sends_per_hour: int = 5
    sms_max_attempts: int = 3
    # "outbox" keeps messages in the database (the demo reads them); "twilio" sends them.
    sms_adapter: str = "outbox"
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_timeout_seconds: float = 10.0
    # How long a step-up challenge stays open before it must be started again.
    step_up_challenge_minutes: int = 30
    # Largest identity document a customer may upload (the upload route alone accepts bodies
    # this large; every other route keeps `max_body_bytes`).
    identity_document_max_bytes: int = 10_000_000
    # Mark console cookies Secure even when kefu itself sees plain http (behind a TLS proxy).
    console_secure_cookies: bool = False
    # The customer portal's own cookie session, opened from the exchange's signed link.
    portal_session_minutes: int = 60
    # Chains for transaction checks, by name (KEFU_CHAINS as JSON, or [kefu.chains.NAME] in TOML).
    chains: dict[str, ChainConfig] = Field(default_factory=_default_chains)
    # How long an address-control challenge may be answered.
    chain_challenge_minutes: int = 60 * 24
    # The exchange port (kefu.exchange): "demo" (simulated exchange in kefu's database) or
    # "http" (the REST contract in kefu/exchange/contract/exchange-api.yaml).
    exchange_adapter: Literal["demo", "http"] = "demo"
    exchange_base_url: str = "http://127.0.0.1:8100"
    exchange_key_id: str = "kefu-demo"
    # HMAC secret shared with the exchange for signing requests; a deployment sets its own.
    exchange_secret: str = "change-me-exchange-secret"  # noqa: S105
    exchange_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    exchange_retries: int = Field(default=3, ge=0, le=10)
    # Where `kefu bot train` writes the intent model (trained on first use when missing).
    bot_data_dir: str = "./kefu-data/bot"
    # --- the security protocol (kefu.security) ---
    # What a compromise report freezes at once (`trading` and `all` may be added by policy).
    security_freeze_scopes: list[FreezeScopeName] = Field(
        default_factory=lambda: list(_DEFAULT_FREEZE_SCOPES)
    )
    # How far back the trace looks when the reporter does not say when it started.
    security_trace_hours: int = Field(default=72, ge=1, le=24 * 90)
    # The exchange's chain codes mapped to kefu's chain names (for explorer links and labels).
    security_chain_names: dict[str, str] = Field(
        default_factory=lambda: {"BTC": "bitcoin", "ETH": "ethereum", "ERC20": "ethereum"}
    )
    # How long the exchange's deposit addresses are cached for the chain privacy rule.
    security_own_address_cache_seconds: int = Field(default=60, ge=0, le=3600)
    # --- liquidation disputes (kefu.disputes) ---
    # Minutes of candles and incidents gathered on each side of the liquidation's trigger.
    disputes_window_minutes: int = Field(default=15, ge=2, le=240)
    # A last-price candle this far (fraction) beyond the index candle is reported as a wick.
    disputes_wick_threshold: Decimal = Field(default=Decimal("0.01"), gt=0, lt=1)
    # Recorded and recomputed liquidation prices further apart than this (fraction) disagree.
    disputes_price_tolerance: Decimal = Field(default=Decimal("0.002"), gt=0, lt=1)
    # --- live chat (kefu.chat) ---
    # Pages on other sites allowed to open the chat WebSocket (e.g. "https://www.exchange.example");
    # kefu's own origin is always allowed. Every other Origin is refused (cross-site hijacking).
    chat_allowed_origins: list[str] = Field(default_factory=list)
    # Seconds a new chat connection has to send its first ("hello") frame.
    chat_hello_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Messages a signed-in customer (across their chats, on every worker) or one visitor's
    # connection may send per minute; more are refused with `chat_rate_limited`.
    chat_messages_per_minute: int = Field(default=20, ge=1, le=1000)
    # Fan-out between web workers: "auto" is PostgreSQL LISTEN/NOTIFY on PostgreSQL and
    # in-process otherwise (one worker).
    pubsub_broker: Literal["auto", "memory", "postgresql"] = "auto"
    # The demo "exchange app" page (/demo/exchange) that embeds the chat widget; `kefu demo`
    # turns it on. It mints customer tokens for the demo customers: never on in production.
    demo_pages: bool = False

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
