"""Chain operations: transaction checks, offline verification, address lookups, labels and
address-control challenges.

Privacy (invariant 4): what kefu says about an address that is not the customer's own is
only what the public chain says. The customer's own addresses come from the exchange through
the `OwnAddresses` port; only for those does a lookup add the exchange's own records, and only
agents see kefu's internal address labels.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.chain import btc, proofs
from kefu.chain.adapters import BackendError, ChainBackend, ChainTransaction, TxState
from kefu.chain.adapters.bitcoind import BitcoindBackend
from kefu.chain.adapters.esplora import EsploraBackend
from kefu.chain.adapters.evm import EvmBackend
from kefu.chain.adapters.http import RetryingHttp
from kefu.chain.models import AddressChallenge, AddressLabel
from kefu.core.clock import as_utc, utcnow
from kefu.core.errors import Conflict, KefuError, NotFound, ValidationFailed
from kefu.core.i18n import N_
from kefu.core.settings import ChainConfig, Settings

MAX_CHALLENGE_FAILURES = 3
LABEL_KINDS = ("exchange_hot", "exchange_cold", "exchange_deposit", "scam", "other")

# --- errors ----------------------------------------------------------------------------------


class UnknownChain(NotFound):
    code = "unknown_chain"
    message = N_("The chain %(chain)s is not configured.")


class MalformedTxid(ValidationFailed):
    code = "malformed_txid"
    message = N_("This is not a valid transaction id for %(chain)s.")


class MalformedAddress(ValidationFailed):
    code = "malformed_address"
    message = N_("This is not a valid %(chain)s address.")


class MalformedSignature(ValidationFailed):
    code = "malformed_signature"
    message = N_("The signature is malformed: it is not a signature of a supported format.")


class MalformedRawTransaction(ValidationFailed):
    code = "malformed_raw_transaction"
    message = N_("The raw transaction could not be parsed.")


class MalformedHeader(ValidationFailed):
    code = "malformed_block_header"
    message = N_("A block header is 80 bytes, given as 160 hexadecimal characters.")


class SignatureMismatch(ValidationFailed):
    code = "signature_mismatch"
    message = N_("The signature does not prove control of this address for this message.")


class ChallengeExpired(Conflict):
    code = "challenge_expired"
    message = N_("This challenge has expired; issue a new one.")


class ChallengeClosed(Conflict):
    code = "challenge_closed"
    message = N_("This challenge was already answered or closed; issue a new one.")


class UnsupportedProofAddress(ValidationFailed):
    code = "unsupported_proof_address"
    message = N_(
        "Signed-message proofs cover P2PKH, P2SH-P2WPKH, P2WPKH and P2TR addresses; "
        "this address type cannot sign one."
    )


class LabelExists(Conflict):
    code = "label_exists"
    message = N_("This address already has a label; edit it instead.")


class ChainBackendUnavailable(KefuError):
    status = 503
    code = "chain_backend_unavailable"
    message = N_("The %(chain)s backend did not answer; try again shortly.")


class ChainBackendRateLimited(ChainBackendUnavailable):
    code = "chain_backend_rate_limited"
    message = N_("The %(chain)s backend is rate limiting us; try again shortly.")


class ChainBackendNotConfigured(ChainBackendUnavailable):
    code = "chain_backend_not_configured"
    message = N_("No backend is configured for %(chain)s, so transactions cannot be checked.")


# --- the customer's own addresses (exchange port) ---------------------------------------------


class OwnAddresses(Protocol):
    """The exchange's knowledge of a customer's own addresses (deposit addresses, whitelisted
    withdrawal addresses) and its records about them. Wired to the exchange port."""

    def is_own(self, customer_external_id: str, chain: str, address: str) -> bool: ...

    def account_records(
        self, customer_external_id: str, chain: str, address: str
    ) -> list[dict[str, Any]]: ...


class SetOwnAddresses:
    """A real, in-memory `OwnAddresses`: sets of addresses per (customer, chain), with the
    exchange's records per address. Used until the exchange port is wired, and in tests."""

    def __init__(
        self,
        addresses: dict[tuple[str, str], Iterable[str]] | None = None,
        records: dict[tuple[str, str], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._addresses = {
            key: {_fold(key[1], a) for a in values} for key, values in (addresses or {}).items()
        }
        self._records = {(c, _fold(c, a)): r for (c, a), r in (records or {}).items()}

    def is_own(self, customer_external_id: str, chain: str, address: str) -> bool:
        return _fold(chain, address) in self._addresses.get((customer_external_id, chain), set())

    def account_records(
        self, customer_external_id: str, chain: str, address: str
    ) -> list[dict[str, Any]]:
        if not self.is_own(customer_external_id, chain, address):
            return []
        return list(self._records.get((chain, _fold(chain, address)), []))


def _fold(chain: str, address: str) -> str:
    """Comparison form: EVM and bech32 addresses are case-insensitive, Base58 is not."""
    lowered = address.lower()
    if lowered.startswith("0x") or lowered[:3] in ("bc1", "tb1") or lowered.startswith("bcrt1"):
        return lowered
    return address


@dataclass(frozen=True)
class Viewer:
    """Who is asking. Agents see internal labels; `customer_external_id` names the customer
    whose own addresses may be marked (the caller, or the customer of the agent's ticket)."""

    actor: Actor
    internal: bool
    customer_external_id: str | None = None
    own_addresses: OwnAddresses | None = None

    def owns(self, chain: str, address: str | None) -> bool:
        if not address or self.customer_external_id is None or self.own_addresses is None:
            return False
        return self.own_addresses.is_own(self.customer_external_id, chain, address)


# --- chains and backends ----------------------------------------------------------------------


def chain_config(settings: Settings, chain: str) -> ChainConfig:
    config = settings.chains.get(chain)
    if config is None:
        raise UnknownChain(chain=chain[:32])
    return config


_backends: dict[str, ChainBackend] = {}
_backends_lock = threading.Lock()


def backend_for(settings: Settings, chain: str) -> ChainBackend:
    config = chain_config(settings, chain)
    if not config.url:
        raise ChainBackendNotConfigured(chain=chain)
    key = f"{chain}:{config.model_dump_json()}"
    with _backends_lock:
        backend = _backends.get(key)
        if backend is None:
            auth = (config.rpc_user, config.rpc_password) if config.rpc_user else None
            http = RetryingHttp(
                config.url,
                timeout=config.timeout_seconds,
                retries=config.retries,
                backoff=config.backoff_seconds,
                auth=auth,
            )
            if config.kind == "esplora":
                backend = EsploraBackend(http, asset=config.asset, hrp=config.hrp)
            elif config.kind == "bitcoind":
                backend = BitcoindBackend(http, asset=config.asset)
            else:
                backend = EvmBackend(http, asset=config.asset)
            _backends[key] = backend
        return backend


def normalize_txid(config: ChainConfig, chain: str, txid: str) -> str:
    text = txid.strip().lower()
    if config.family == "evm":
        body = text.removeprefix("0x")
        if len(body) == 64 and all(c in "0123456789abcdef" for c in body):
            return "0x" + body
    elif len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text
    raise MalformedTxid(chain=chain)


def normalize_address(config: ChainConfig, chain: str, address: str) -> str:
    address = address.strip()
    if config.family == "evm":
        if not proofs.is_eth_address(address):
            raise MalformedAddress(chain=chain)
        return address.lower()
    if len(address) > 100 or not btc.is_valid_address(address):
        raise MalformedAddress(chain=chain)
    hrp = _hrp_of(address)
    if hrp is not None and hrp != config.hrp:
        raise MalformedAddress(chain=chain)
    if hrp is None:  # Base58: the version byte tells mainnet (1..., 3...) from test networks
        mainnet = btc.base58check_decode(address)[0] in (0x00, 0x05)
        if mainnet != (config.hrp == "bc"):
            raise MalformedAddress(chain=chain)
    return _fold(chain, address)


def _hrp_of(address: str) -> str | None:
    lowered = address.lower()
    for hrp in ("bcrt", "bc", "tb"):
        if lowered.startswith(hrp + "1"):
            return hrp
    return None


def explorer_links(
    config: ChainConfig, *, txid: str | None = None, address: str | None = None
) -> list[str]:
    if txid is not None:
        return [url.format(txid=txid) for url in config.explorer_tx_urls]
    if address is not None:
        return [url.format(address=address) for url in config.explorer_address_urls]
    return []


# --- transaction checks -----------------------------------------------------------------------


@dataclass
class _Cached:
    tip: int
    tx: ChainTransaction | None


class TxCache:
    """Results per block height: an unconfirmed or unknown transaction is asked again once a
    new block arrives; a confirmed one is kept and its confirmations recomputed from the tip."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, chain: str, txid: str, tip: int) -> tuple[bool, ChainTransaction | None]:
        with self._lock:
            entry = self._items.get((chain, txid))
            if entry is None:
                return False, None
            settled = entry.tx is not None and entry.tx.block_height is not None
            if settled and entry.tx is not None and entry.tx.block_height is not None:
                # A reorganisation below the cached block would show as a tip below it.
                if entry.tx.block_height > tip:
                    return False, None
                return True, entry.tx
            return (True, entry.tx) if entry.tip == tip else (False, None)

    def put(self, chain: str, txid: str, tip: int, tx: ChainTransaction | None) -> None:
        with self._lock:
            self._items[(chain, txid)] = _Cached(tip, tx)
            self._items.move_to_end((chain, txid))
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


tx_cache = TxCache()


@dataclass(frozen=True)
class TransferView:
    index: int
    kind: str
    from_address: str | None
    to_address: str | None
    amount: Decimal
    asset: str
    token_contract: str | None
    yours: bool
    label: dict[str, str] | None


@dataclass(frozen=True)
class ExpectedReceipt:
    address: str
    amount: Decimal | None
    asset: str | None
    received_amount: Decimal
    # received | received_less | received_more | not_received | not_settled
    verdict: str


@dataclass
class TxCheck:
    chain: str
    txid: str
    status: str  # not_found | pending | confirmed | failed
    confirmations: int
    tip_height: int
    block_height: int | None
    block_hash: str | None
    block_time: datetime | None
    fee: Decimal | None
    fee_asset: str | None
    transfers: list[TransferView]
    senders: list[str]
    expected: ExpectedReceipt | None
    explorer_links: list[str]
    checked_at: datetime
    cached: bool
    inclusion: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def _backend_call(chain: str, call: Any) -> Any:
    try:
        return call()
    except BackendError as exc:
        if exc.reason == "rate_limited":
            raise ChainBackendRateLimited(chain=chain) from exc
        raise ChainBackendUnavailable(chain=chain) from exc


def check_transaction(
    session: Session,
    settings: Settings,
    chain: str,
    txid: str,
    *,
    viewer: Viewer,
    expected_address: str | None = None,
    expected_amount: Decimal | None = None,
    expected_asset: str | None = None,
    verify_inclusion: bool = False,
) -> TxCheck:
    config = chain_config(settings, chain)
    txid = normalize_txid(config, chain, txid)
    if expected_address is not None:
        expected_address = normalize_address(config, chain, expected_address)
    if expected_amount is not None and expected_amount <= 0:
        raise ValidationFailed(N_("The expected amount must be positive."))
    backend = backend_for(settings, chain)
    tip: int = _backend_call(chain, backend.tip_height)
    cached, tx = tx_cache.get(chain, txid, tip)
    if not cached:
        tx = _backend_call(chain, lambda: backend.get_transaction(txid))
        tx_cache.put(chain, txid, tip, tx)
    labels = labels_for(session, chain, _addresses_of(tx)) if viewer.internal and tx else {}
    result = _build_check(config, chain, txid, tip, tx, viewer, labels, cached)
    if expected_address is not None:
        result = _with_expectation(result, expected_address, expected_amount, expected_asset)
    if (
        verify_inclusion
        and tx is not None
        and tx.block_hash
        and isinstance(backend, EsploraBackend)
    ):
        result.inclusion = _verify_inclusion(chain, backend, txid, tx)
    record(
        session,
        viewer.actor,
        "chain.tx_checked",
        subject_type="chain_tx",
        subject_id=txid.removeprefix("0x"),
        data={
            "chain": chain,
            "txid": txid,
            "status": result.status,
            "confirmations": result.confirmations,
            "expected_address": expected_address,
            "verdict": result.expected.verdict if result.expected else None,
        },
    )
    return result


def _addresses_of(tx: ChainTransaction | None) -> set[str]:
    if tx is None:
        return set()
    found = {t.to_address for t in tx.transfers if t.to_address}
    found |= {t.from_address for t in tx.transfers if t.from_address}
    return found | set(tx.inputs_from)


def _build_check(
    config: ChainConfig,
    chain: str,
    txid: str,
    tip: int,
    tx: ChainTransaction | None,
    viewer: Viewer,
    labels: dict[str, AddressLabel],
    cached: bool,
) -> TxCheck:
    links = explorer_links(config, txid=txid)
    now = utcnow()
    if tx is None:
        return TxCheck(
            chain,
            txid,
            "not_found",
            0,
            tip,
            None,
            None,
            None,
            None,
            None,
            [],
            [],
            None,
            links,
            now,
            cached,
        )
    confirmations = 0
    if tx.block_height is not None and tx.state != TxState.PENDING:
        confirmations = max(0, tip - tx.block_height + 1)
    transfers = [
        TransferView(
            index=t.index,
            kind=t.kind,
            from_address=t.from_address,
            to_address=t.to_address,
            amount=t.amount,
            asset=t.asset,
            token_contract=t.token_contract,
            yours=viewer.owns(chain, t.to_address),
            label=_label_view(labels.get(_fold(chain, t.to_address or ""))),
        )
        for t in tx.transfers
    ]
    return TxCheck(
        chain=chain,
        txid=txid,
        status=tx.state.value,
        confirmations=confirmations,
        tip_height=tip,
        block_height=tx.block_height,
        block_hash=tx.block_hash,
        block_time=tx.block_time,
        fee=tx.fee,
        fee_asset=tx.fee_asset if tx.fee is not None else None,
        transfers=transfers,
        senders=list(tx.inputs_from),
        expected=None,
        explorer_links=links,
        checked_at=now,
        cached=cached,
    )


def _with_expectation(
    result: TxCheck, address: str, amount: Decimal | None, asset: str | None
) -> TxCheck:
    matching = [
        t
        for t in result.transfers
        if t.to_address is not None
        and _fold(result.chain, t.to_address) == address
        and (
            asset is None
            or t.asset.lower() == asset.lower()
            or (t.token_contract or "") == asset.lower()
        )
    ]
    received = sum((t.amount for t in matching), Decimal(0))
    if result.status in ("not_found", "failed") or not matching:
        verdict = "not_received"
    elif result.status == "pending":
        verdict = "not_settled"
    elif amount is None or received == amount:
        verdict = "received"
    elif received < amount:
        verdict = "received_less"
    else:
        verdict = "received_more"
    result.expected = ExpectedReceipt(address, amount, asset, received, verdict)
    return result


def _verify_inclusion(
    chain: str, backend: EsploraBackend, txid: str, tx: ChainTransaction
) -> dict[str, Any]:
    """Checks the explorer's word: the raw transaction hashes to the txid, the merkle branch
    leads to the header's root, and the header carries its proof of work."""
    assert tx.block_hash is not None
    proof = _backend_call(chain, lambda: backend.inclusion_proof(txid, tx.block_hash or ""))
    try:
        parsed = btc.parse_transaction(proof.raw_tx)
        header = btc.parse_header(proof.header)
    except btc.ParseError:
        return {"verified": False, "reason": "unparseable"}
    txid_ok = parsed.txid == txid
    header_ok = header.hash == tx.block_hash and header.meets_target
    merkle_ok = btc.verify_merkle_proof(txid, proof.merkle, proof.pos, header.merkle_root)
    return {
        "verified": txid_ok and header_ok and merkle_ok,
        "txid_matches_raw": txid_ok,
        "header_hash_and_work": header_ok,
        "merkle_proof": merkle_ok,
        "wtxid": parsed.wtxid,
        "position": proof.pos,
    }


# --- offline verification ---------------------------------------------------------------------


def parse_raw_transaction(raw_hex: str, hrp: str = "bc") -> btc.Transaction:
    try:
        return btc.parse_transaction_hex(raw_hex)
    except btc.ParseError as exc:
        raise MalformedRawTransaction() from exc


def verify_merkle_inclusion(
    txid: str, branch: list[str], position: int, header_hex: str
) -> tuple[btc.BlockHeader, bool]:
    try:
        header = btc.parse_header(bytes.fromhex(header_hex))
    except (ValueError, btc.ParseError) as exc:
        raise MalformedHeader() from exc
    try:
        ok = btc.verify_merkle_proof(
            txid.lower(), [b.lower() for b in branch], position, header.merkle_root
        )
    except ValueError as exc:
        raise MalformedTxid(chain="bitcoin") from exc
    return header, ok


# --- address lookups --------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressInfo:
    chain: str
    address: str
    valid: bool
    script_type: str | None
    yours: bool
    label: dict[str, str] | None
    account_records: list[dict[str, Any]]
    explorer_links: list[str]


def _script_type(script: bytes) -> str:
    if script[:3] == b"\x76\xa9\x14":
        return "p2pkh"
    if script[:2] == b"\xa9\x14":
        return "p2sh"
    if script[:2] == b"\x00\x14":
        return "p2wpkh"
    if script[:2] == b"\x00\x20":
        return "p2wsh"
    if script[:2] == b"\x51\x20":
        return "p2tr"
    return "witness_unknown"


def lookup_address(
    session: Session, settings: Settings, chain: str, address: str, *, viewer: Viewer
) -> AddressInfo:
    config = chain_config(settings, chain)
    normalized = normalize_address(config, chain, address)
    script_type = (
        "account" if config.family == "evm" else _script_type(btc.address_to_script(normalized))
    )
    yours = viewer.owns(chain, normalized)
    records: list[dict[str, Any]] = []
    if yours and viewer.own_addresses is not None and viewer.customer_external_id is not None:
        records = viewer.own_addresses.account_records(
            viewer.customer_external_id, chain, normalized
        )
    label = None
    if viewer.internal:
        label = _label_view(labels_for(session, chain, {normalized}).get(normalized))
    record(
        session,
        viewer.actor,
        "chain.address_looked_up",
        subject_type="chain_address",
        subject_id=None,
        data={"chain": chain, "address": normalized, "yours": yours},
    )
    return AddressInfo(
        chain,
        normalized,
        True,
        script_type,
        yours,
        label,
        records,
        explorer_links(config, address=normalized),
    )


# --- labels -----------------------------------------------------------------------------------


def _label_view(label: AddressLabel | None) -> dict[str, str] | None:
    if label is None:
        return None
    return {"kind": label.kind, "label": label.label, "source": label.source}


def labels_for(session: Session, chain: str, addresses: set[str]) -> dict[str, AddressLabel]:
    """Active labels of these addresses, by normalised address: what checks, the security
    trace and the bot show next to an address (to agents; customers never see labels)."""
    folded = {_fold(chain, a) for a in addresses if a}
    if not folded:
        return {}
    rows = session.scalars(
        select(AddressLabel).where(
            AddressLabel.chain == chain,
            AddressLabel.address.in_(folded),
            AddressLabel.active.is_(True),
        )
    )
    return {row.address: row for row in rows}


def list_labels(
    session: Session, *, chain: str | None = None, kind: str | None = None
) -> list[AddressLabel]:
    stmt = select(AddressLabel).where(AddressLabel.active.is_(True))
    if chain:
        stmt = stmt.where(AddressLabel.chain == chain)
    if kind:
        stmt = stmt.where(AddressLabel.kind == kind)
    return list(session.scalars(stmt.order_by(AddressLabel.chain, AddressLabel.address)))


def create_label(
    session: Session,
    settings: Settings,
    *,
    chain: str,
    address: str,
    kind: str,
    label: str,
    source: str,
    note: str,
    actor: Actor,
) -> AddressLabel:
    config = chain_config(settings, chain)
    normalized = normalize_address(config, chain, address)
    existing = session.scalar(
        select(AddressLabel).where(AddressLabel.chain == chain, AddressLabel.address == normalized)
    )
    if existing is not None and existing.active:
        raise LabelExists()
    if existing is not None:
        model = existing
        model.active = True
    else:
        model = AddressLabel(chain=chain, address=normalized)
        session.add(model)
    model.kind, model.label, model.source, model.note = kind, label, source, note
    model.created_by = actor.id
    session.flush()
    record(
        session,
        actor,
        "chain.label_created",
        subject_type="chain_label",
        subject_id=model.id,
        data={
            "chain": chain,
            "address": normalized,
            "kind": kind,
            "label": label,
            "source": source,
        },
    )
    return model


def get_label(session: Session, label_id: str) -> AddressLabel:
    model = session.get(AddressLabel, label_id)
    if model is None or not model.active:
        raise NotFound(kind=N_("Address label"), id=label_id[:64])
    return model


def update_label(
    session: Session, label_id: str, changes: dict[str, Any], actor: Actor
) -> AddressLabel:
    model = get_label(session, label_id)
    for name in ("kind", "label", "source", "note"):
        if changes.get(name) is not None:
            setattr(model, name, changes[name])
    session.flush()
    record(
        session,
        actor,
        "chain.label_updated",
        subject_type="chain_label",
        subject_id=model.id,
        data={k: v for k, v in changes.items() if v is not None},
    )
    return model


def remove_label(session: Session, label_id: str, actor: Actor) -> AddressLabel:
    model = get_label(session, label_id)
    model.active = False
    session.flush()
    record(session, actor, "chain.label_removed", subject_type="chain_label", subject_id=model.id)
    return model


# --- address-control challenges ---------------------------------------------------------------


def challenge_message(
    chain: str, address: str, nonce: str, issued: datetime, expires: datetime
) -> str:
    """ASCII only, so that every wallet signs exactly these bytes."""
    return (
        "kefu address control proof\n"
        f"Chain: {chain}\n"
        f"Address: {address}\n"
        f"Nonce: {nonce}\n"
        f"Issued: {issued.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        "Signing this message proves control of the address. It moves no funds."
    )


def issue_challenge(
    session: Session,
    settings: Settings,
    *,
    chain: str,
    address: str,
    ticket_id: str | None,
    actor: Actor,
) -> AddressChallenge:
    config = chain_config(settings, chain)
    normalized = normalize_address(config, chain, address)
    if config.family == "bitcoin" and _script_type(btc.address_to_script(normalized)) not in (
        "p2pkh",
        "p2sh",
        "p2wpkh",
        "p2tr",
    ):
        raise UnsupportedProofAddress()
    # Keep the address as the holder wrote it (checksummed EVM, upper-case bech32) in the text.
    shown = address.strip() if config.family == "evm" else normalized
    nonce = secrets.token_hex(16)
    issued = utcnow().replace(microsecond=0)
    expires = issued + timedelta(minutes=settings.chain_challenge_minutes)
    challenge = AddressChallenge(
        chain=chain,
        address=normalized,
        ticket_id=ticket_id,
        nonce=nonce,
        message=challenge_message(chain, shown, nonce, issued, expires),
        issued_by=actor.id,
        created_at=issued,
        expires_at=expires,
        status="open",
        failed_attempts=0,
    )
    session.add(challenge)
    session.flush()
    record(
        session,
        actor,
        "chain.challenge_issued",
        subject_type="chain_challenge",
        subject_id=challenge.id,
        data={"chain": chain, "address": normalized, "ticket_id": ticket_id},
    )
    return challenge


def list_challenges(session: Session, ticket_id: str) -> list[AddressChallenge]:
    return list(
        session.scalars(
            select(AddressChallenge)
            .where(AddressChallenge.ticket_id == ticket_id)
            .order_by(AddressChallenge.created_at, AddressChallenge.id)
        )
    )


def get_challenge(session: Session, challenge_id: str) -> AddressChallenge:
    challenge = session.get(AddressChallenge, challenge_id)
    if challenge is None:
        raise NotFound(kind=N_("Challenge"), id=challenge_id[:64])
    return challenge


def verify_signature(
    settings: Settings, chain: str, address: str, message: str, signature: str
) -> tuple[bool, str]:
    config = chain_config(settings, chain)
    normalize_address(config, chain, address)
    try:
        if config.family == "evm":
            return proofs.verify_eip191(
                address.strip(), message, signature
            ), proofs.ProofFormat.EIP191
        valid, fmt = proofs.verify_bitcoin(address.strip(), message, signature)
        return valid, fmt.value
    except proofs.ProofError as exc:
        raise MalformedSignature() from exc


def verify_proof(
    session: Session,
    settings: Settings,
    *,
    chain: str,
    address: str,
    message: str,
    signature: str,
    actor: Actor,
) -> tuple[bool, str]:
    valid, fmt = verify_signature(settings, chain, address, message, signature)
    record(
        session,
        actor,
        "chain.proof_verified",
        subject_type="chain_address",
        data={"chain": chain, "address": address.strip(), "format": fmt, "valid": valid},
    )
    return valid, fmt


def answer_challenge(
    session: Session, settings: Settings, challenge_id: str, signature: str, actor: Actor
) -> tuple[AddressChallenge, bool]:
    """Verifies an answer once: a right answer closes the challenge as verified; wrong answers
    count, and the third closes it. The status moves with a guarded UPDATE, so two answers
    racing cannot both succeed."""
    challenge = get_challenge(session, challenge_id)
    if challenge.status != "open":
        raise ChallengeClosed()
    now = utcnow()
    if as_utc(challenge.expires_at) <= now:
        raise ChallengeExpired()
    valid, fmt = verify_signature(
        settings, challenge.chain, _signing_address(challenge), challenge.message, signature
    )
    if valid:
        moved = session.execute(  # type: ignore[attr-defined]
            update(AddressChallenge)
            .where(AddressChallenge.id == challenge.id, AddressChallenge.status == "open")
            .values(status="verified", answered_at=now, proof_format=fmt)
        ).rowcount
        if not moved:
            raise ChallengeClosed()
    else:
        failures = challenge.failed_attempts + 1
        session.execute(
            update(AddressChallenge)
            .where(AddressChallenge.id == challenge.id, AddressChallenge.status == "open")
            .values(
                failed_attempts=failures,
                status="failed" if failures >= MAX_CHALLENGE_FAILURES else "open",
                answered_at=now if failures >= MAX_CHALLENGE_FAILURES else None,
                proof_format=fmt,
            )
        )
    session.refresh(challenge)
    record(
        session,
        actor,
        "chain.challenge_answered",
        subject_type="chain_challenge",
        subject_id=challenge.id,
        data={"verified": valid, "format": fmt, "status": challenge.status},
    )
    return challenge, valid


def _signing_address(challenge: AddressChallenge) -> str:
    return challenge.address
