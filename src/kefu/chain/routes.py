"""The chain API under /api/v1/chain: transaction checks and address lookups (agents, and
customers for their own questions), offline verification, address-control proofs and
challenges, and address labels (risk officers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from kefu.audit.service import record
from kefu.chain import service
from kefu.chain.schemas import (
    AddressOut,
    ChainOut,
    ChallengeAnswerIn,
    ChallengeIn,
    ChallengeOut,
    HeaderOut,
    LabelCreate,
    LabelOut,
    LabelUpdate,
    MerkleProofIn,
    MerkleProofOut,
    ProofIn,
    ProofOut,
    RawInputOut,
    RawOutputOut,
    RawTxIn,
    RawTxOut,
    TxCheckOut,
)
from kefu.core.errors import PermissionDenied
from kefu.core.settings import Settings
from kefu.core.web import DbSession, IdempotencyKey, idempotent_create
from kefu.identity.deps import CurrentPrincipal, Principal, require
from kefu.identity.models import Customer
from kefu.identity.permissions import Permission
from kefu.tickets import service as ticket_service

router = APIRouter(prefix="/api/v1/chain", tags=["chain"])

Checker = Annotated[Principal, Depends(require(Permission.CHAIN_CHECK))]
Prover = Annotated[Principal, Depends(require(Permission.CHAIN_PROOFS))]
LabelManager = Annotated[Principal, Depends(require(Permission.CHAIN_LABELS_MANAGE))]
ChainName = Annotated[str, Path(max_length=32)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _own_addresses(request: Request) -> service.OwnAddresses:
    """The exchange port's view of customers' own addresses, once wired into app.state."""
    own = getattr(request.app.state, "chain_own_addresses", None)
    return own if own is not None else service.SetOwnAddresses()


def _viewer(
    request: Request, db: DbSession, principal: Principal, ticket_id: str | None
) -> service.Viewer:
    own = _own_addresses(request)
    # The own-address check may ask the exchange; the demo exchange shares kefu's database,
    # so release the request's transaction first (as the exchange routes do).
    db.commit()
    if principal.customer is not None:
        if ticket_id is not None:
            ticket_service.get_visible_ticket(db, ticket_id, customer=principal.customer)
        return service.Viewer(principal.actor, False, principal.customer.external_id, own)
    if not principal.can(Permission.CHAIN_CHECK):
        raise PermissionDenied()
    external_id = None
    if ticket_id is not None:
        ticket = ticket_service.get_visible_ticket(db, ticket_id, agent=principal.agent)
        customer = db.get(Customer, ticket.customer_id)
        external_id = customer.external_id if customer is not None else None
    return service.Viewer(principal.actor, True, external_id, own)


@router.get("/chains", response_model=list[ChainOut])
def list_chains(request: Request, _: Checker) -> list[ChainOut]:
    return [
        ChainOut(
            name=name,
            kind=config.kind,
            family=config.family,
            asset=config.asset,
            configured=bool(config.url),
            explorer_tx_urls=config.explorer_tx_urls,
        )
        for name, config in _settings(request).chains.items()
    ]


@router.get("/{chain}/transactions/{txid}", response_model=TxCheckOut)
def check_transaction(
    request: Request,
    chain: ChainName,
    txid: Annotated[str, Path(max_length=100)],
    db: DbSession,
    principal: CurrentPrincipal,
    expected_address: Annotated[str | None, Query(max_length=128)] = None,
    expected_amount: Annotated[Decimal | None, Query(gt=0, max_digits=40)] = None,
    expected_asset: Annotated[str | None, Query(max_length=64)] = None,
    ticket_id: Annotated[str | None, Query(max_length=36)] = None,
    verify: bool = False,
) -> TxCheckOut:
    """Status (not_found, pending, confirmed with its confirmations, failed), transfers with
    amounts, fee, block and explorer links; with `expected_address` (and amount) a verdict on
    whether that address received it. `verify=true` re-checks an Esplora answer offline."""
    viewer = _viewer(request, db, principal, ticket_id)
    result = service.check_transaction(
        db,
        _settings(request),
        chain,
        txid,
        viewer=viewer,
        expected_address=expected_address,
        expected_amount=expected_amount,
        expected_asset=expected_asset,
        verify_inclusion=verify,
    )
    return TxCheckOut.model_validate(result)


@router.get("/{chain}/addresses/{address}", response_model=AddressOut)
def lookup_address(
    request: Request,
    chain: ChainName,
    address: Annotated[str, Path(max_length=128)],
    db: DbSession,
    principal: CurrentPrincipal,
    ticket_id: Annotated[str | None, Query(max_length=36)] = None,
) -> AddressOut:
    """About an address that is not the customer's own, only public facts (validity, type,
    explorer links); the exchange's records only for the customer's own addresses."""
    viewer = _viewer(request, db, principal, ticket_id)
    info = service.lookup_address(db, _settings(request), chain, address, viewer=viewer)
    return AddressOut.model_validate(info)


@router.post("/bitcoin/raw-transactions/parse", response_model=RawTxOut)
def parse_raw_transaction(body: RawTxIn, db: DbSession, principal: Checker) -> RawTxOut:
    """Offline: parses a raw transaction and computes its txid and wtxid."""
    tx = service.parse_raw_transaction(body.raw_hex)
    record(db, principal.actor, "chain.raw_tx_parsed", subject_type="chain_tx", subject_id=tx.txid)
    return RawTxOut(
        txid=tx.txid,
        wtxid=tx.wtxid,
        segwit=tx.is_segwit,
        version=tx.version,
        locktime=tx.locktime,
        size=tx.size,
        vsize=tx.vsize,
        weight=tx.weight,
        inputs=[
            RawInputOut(
                prev_txid=i.prev_txid,
                prev_vout=i.prev_vout,
                coinbase=i.is_coinbase,
                witness_items=len(i.witness),
            )
            for i in tx.inputs
        ],
        outputs=[
            RawOutputOut(
                index=o.index,
                amount=o.value_btc,
                address=o.address(),
                script_pubkey=o.script_pubkey.hex(),
            )
            for o in tx.outputs
        ],
        total_out=sum((o.value_btc for o in tx.outputs), Decimal(0)),
    )


@router.post("/bitcoin/merkle-proofs/verify", response_model=MerkleProofOut)
def verify_merkle_proof(body: MerkleProofIn, db: DbSession, principal: Checker) -> MerkleProofOut:
    """Offline: does the merkle branch lead from the txid to this header's root, and does the
    header carry its proof of work?"""
    header, valid = service.verify_merkle_inclusion(
        body.txid, body.merkle, body.pos, body.header_hex
    )
    record(
        db,
        principal.actor,
        "chain.merkle_proof_verified",
        subject_type="chain_tx",
        subject_id=body.txid.lower(),
        data={"valid": valid, "block": header.hash},
    )
    return MerkleProofOut(
        valid=valid,
        header=HeaderOut(
            hash=header.hash,
            prev_hash=header.prev_hash,
            merkle_root=header.merkle_root,
            time=header.time,
            bits=header.bits,
            nonce=header.nonce,
            meets_target=header.meets_target,
        ),
    )


@router.post("/proofs/verify", response_model=ProofOut)
def verify_proof(request: Request, body: ProofIn, db: DbSession, principal: Prover) -> ProofOut:
    """Verifies a signed message (BIP-137 or BIP-322 for Bitcoin, EIP-191 for EVM chains).
    A malformed signature is a 422; a well-formed one from another key is `valid: false`."""
    valid, fmt = service.verify_proof(
        db,
        _settings(request),
        chain=body.chain,
        address=body.address,
        message=body.message,
        signature=body.signature,
        actor=principal.actor,
    )
    return ProofOut(valid=valid, format=fmt)


@router.post("/challenges", status_code=201, response_model=ChallengeOut)
def issue_challenge(
    request: Request,
    body: ChallengeIn,
    db: DbSession,
    principal: Prover,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A message with a nonce and an expiry for the holder of `address` to sign."""
    if body.ticket_id is not None:
        ticket_service.get_visible_ticket(db, body.ticket_id, agent=principal.agent)
    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=lambda: ChallengeOut.model_validate(
            service.issue_challenge(
                db,
                _settings(request),
                chain=body.chain,
                address=body.address,
                ticket_id=body.ticket_id,
                actor=principal.actor,
            )
        ),
    )


@router.get("/challenges", response_model=list[ChallengeOut])
def list_challenges(
    ticket_id: Annotated[str, Query(max_length=36)], db: DbSession, principal: Prover
) -> list[ChallengeOut]:
    """The challenges issued on a ticket the agent may see, oldest first."""
    ticket = ticket_service.get_visible_ticket(db, ticket_id, agent=principal.agent)
    return [ChallengeOut.model_validate(c) for c in service.list_challenges(db, ticket.id)]


@router.get("/challenges/{challenge_id}", response_model=ChallengeOut)
def get_challenge(
    challenge_id: Annotated[str, Path(max_length=36)], db: DbSession, _: Prover
) -> ChallengeOut:
    return ChallengeOut.model_validate(service.get_challenge(db, challenge_id))


@router.post("/challenges/{challenge_id}/answer", response_model=ChallengeOut)
def answer_challenge(
    request: Request,
    challenge_id: Annotated[str, Path(max_length=36)],
    body: ChallengeAnswerIn,
    db: DbSession,
    principal: Prover,
) -> ChallengeOut:
    """Verifies the signed challenge once. A wrong signature is a 422 `signature_mismatch`;
    the failed attempt is still recorded (three close the challenge)."""
    challenge, valid = service.answer_challenge(
        db, _settings(request), challenge_id, body.signature, principal.actor
    )
    if not valid:
        db.commit()  # keep the failed attempt and its audit entry; the error rolls back nothing
        raise service.SignatureMismatch()
    return ChallengeOut.model_validate(challenge)


@router.get("/labels", response_model=list[LabelOut])
def list_labels(
    db: DbSession,
    _: Checker,
    chain: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
) -> list[LabelOut]:
    return [LabelOut.model_validate(m) for m in service.list_labels(db, chain=chain, kind=kind)]


@router.post("/labels", status_code=201, response_model=LabelOut)
def create_label(
    request: Request,
    body: LabelCreate,
    db: DbSession,
    principal: LabelManager,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=lambda: LabelOut.model_validate(
            service.create_label(
                db,
                _settings(request),
                chain=body.chain,
                address=body.address,
                kind=body.kind,
                label=body.label,
                source=body.source,
                note=body.note,
                actor=principal.actor,
            )
        ),
    )


@router.patch("/labels/{label_id}", response_model=LabelOut)
def update_label(
    label_id: Annotated[str, Path(max_length=36)],
    body: LabelUpdate,
    db: DbSession,
    principal: LabelManager,
) -> LabelOut:
    model = service.update_label(db, label_id, body.model_dump(exclude_unset=True), principal.actor)
    return LabelOut.model_validate(model)


@router.delete("/labels/{label_id}", response_model=LabelOut)
def remove_label(
    label_id: Annotated[str, Path(max_length=36)], db: DbSession, principal: LabelManager
) -> LabelOut:
    return LabelOut.model_validate(service.remove_label(db, label_id, principal.actor))
