"""The `kefu` command line; `kefu --help` lists its commands."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import typer
import uvicorn

from kefu.bootstrap import prepare_database
from kefu.core.db import make_engine, session_scope
from kefu.core.settings import get_settings

app = typer.Typer(help="kefu — support desk for cryptocurrency exchanges.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
chain_app = typer.Typer(help="Offline chain verification (no node needed).", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
exchange_app = typer.Typer(help="The exchange port and its REST contract.", no_args_is_help=True)
app.add_typer(exchange_app, name="exchange")
kb_app = typer.Typer(help="The knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
bot_app = typer.Typer(help="The tier-1 bot's intent model.", no_args_is_help=True)
app.add_typer(bot_app, name="bot")


def _configure_logging() -> None:
    logging.basicConfig(
        level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    settings = get_settings()
    prepare_database(settings.database_url)
    typer.echo("database is at the latest schema")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to bind (default KEFU_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default KEFU_PORT or 8000)."),
    workers: int = typer.Option(1, help="Web worker processes."),
) -> None:
    """Migrate, then serve the desk."""
    _configure_logging()
    settings = get_settings()
    prepare_database(settings.database_url)
    uvicorn.run(
        "kefu.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
    )


@app.command()
def demo(
    host: str = typer.Option(None, help="Address to bind (default KEFU_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default KEFU_PORT or 8000)."),
    tickets: int = typer.Option(300, help="How many demo tickets to create on first run."),
    seed_only: bool = typer.Option(False, "--seed-only", help="Seed and exit without serving."),
) -> None:
    """Migrate, seed demo data (once), and serve."""
    from kefu.demo.seed import seed_demo
    from kefu.wiring import wire

    _configure_logging()
    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    prepare_database(settings.database_url)
    engine = make_engine(settings.database_url)
    wire()
    with session_scope(engine) as session:
        report = seed_demo(session, tickets=tickets, base_url=f"http://{host}:{port}")
    typer.echo(report)
    engine.dispose()
    if seed_only:
        return
    from kefu.bot.service import classifier, model_path

    if not model_path(settings).exists():
        typer.echo("training the bot's intent model (first run only) ...")
        classifier(settings)
    # The demo "exchange app" page that embeds the chat widget (kefu.chat.pages).
    os.environ.setdefault("KEFU_DEMO_PAGES", "true")
    get_settings.cache_clear()
    uvicorn.run("kefu.app:create_app", factory=True, host=host, port=port)


@app.command()
def keygen() -> None:
    """Print a new key for KEFU_DATA_ENCRYPTION_KEY (data encrypted at rest)."""
    from kefu.core.crypto import generate_key

    typer.echo(generate_key())


@app.command()
def worker() -> None:
    """Run background jobs (SLA breach detection) until interrupted."""
    from kefu.wiring import wire
    from kefu.worker import run_forever

    _configure_logging()
    settings = get_settings()
    wire()
    engine = make_engine(settings.database_url)
    stop = threading.Event()
    try:
        run_forever(engine, settings, stop)
    except KeyboardInterrupt:
        stop.set()


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 and name the first broken entry if it does not hold."""
    from kefu.audit.service import verify

    engine = make_engine(get_settings().database_url)
    with session_scope(engine) as session:
        result = verify(session)
    if result.ok:
        typer.echo(f"audit chain intact: {result.checked} entries")
        return
    typer.echo(
        f"audit chain BROKEN at entry {result.first_broken_seq}: {result.reason} "
        f"({result.checked} entries verified before it)",
        err=True,
    )
    raise typer.Exit(code=1)


mfa_app = typer.Typer(help="Second factors.", no_args_is_help=True)
app.add_typer(mfa_app, name="mfa")


@mfa_app.command("reset-agent")
def mfa_reset_agent(email: str) -> None:
    """Break glass: clear an agent's lost authenticator (they enrol anew at their next
    sign-in). For operators with server access; audited as done by the system."""
    from sqlalchemy import select

    from kefu.audit.service import Actor
    from kefu.identity.mfa.agents import reset_agent_totp
    from kefu.identity.models import Agent

    engine = make_engine(get_settings().database_url)
    with session_scope(engine) as session:
        agent = session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
        if agent is None:
            typer.echo(f"no agent with email {email}", err=True)
            raise typer.Exit(code=1)
        reset_agent_totp(session, agent, Actor.system())
    engine.dispose()
    typer.echo(f"authenticator cleared for {email}; they enrol again at their next sign-in")


@chain_app.command("parse-tx")
def chain_parse_tx(raw_hex: str = typer.Argument(..., help="The raw transaction, in hex.")) -> None:
    """Print a raw Bitcoin transaction's txid, wtxid and outputs."""
    from kefu.chain import btc

    try:
        tx = btc.parse_transaction_hex(raw_hex)
    except btc.ParseError as exc:
        typer.echo(f"not a transaction: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"txid  {tx.txid}")
    typer.echo(f"wtxid {tx.wtxid}")
    for output in tx.outputs:
        typer.echo(f"out {output.index}: {output.value_btc} BTC -> {output.address() or '?'}")


@chain_app.command("verify-merkle")
def chain_verify_merkle(
    txid: str,
    header_hex: str,
    position: int,
    branch: list[str] = typer.Argument(None, help="Sibling hashes, leaf to root."),
) -> None:
    """Check a merkle proof against a block header (and the header's proof of work)."""
    from kefu.chain import btc

    header = btc.parse_header(bytes.fromhex(header_hex))
    included = btc.verify_merkle_proof(
        txid.lower(), list(branch or []), position, header.merkle_root
    )
    typer.echo(f"block {header.hash} proof-of-work {'ok' if header.meets_target else 'FAILED'}")
    typer.echo(f"transaction {'IS' if included else 'is NOT'} in this block")
    if not (included and header.meets_target):
        raise typer.Exit(code=1)


@chain_app.command("verify-message")
def chain_verify_message(
    address: str, message: str, signature: str, evm: bool = typer.Option(False, "--evm")
) -> None:
    """Verify a signed message: BIP-137 / BIP-322 for Bitcoin, EIP-191 with --evm."""
    from kefu.chain import proofs

    try:
        if evm:
            valid, fmt = proofs.verify_eip191(address, message, signature), "eip191"
        else:
            ok, found = proofs.verify_bitcoin(address, message, signature)
            valid, fmt = ok, found.value
    except proofs.ProofError as exc:
        typer.echo(f"malformed: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(f"{fmt}: {'valid' if valid else 'INVALID'}")
    if not valid:
        raise typer.Exit(code=1)


@exchange_app.command("serve-reference")
def exchange_serve_reference(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8100, help="Port."),
) -> None:
    """Serve the exchange REST contract over the demo exchange in kefu's database.

    Requests must be signed with KEFU_EXCHANGE_KEY_ID / KEFU_EXCHANGE_SECRET; point another
    kefu at it with KEFU_EXCHANGE_ADAPTER=http and KEFU_EXCHANGE_BASE_URL.
    """
    from kefu.exchange.reference_server import create_reference_app

    _configure_logging()
    settings = get_settings()
    prepare_database(settings.database_url)
    app = create_reference_app(
        make_engine(settings.database_url),
        key_id=settings.exchange_key_id,
        secret=settings.exchange_secret,
    )
    uvicorn.run(app, host=host, port=port)


@kb_app.command("load")
def kb_load(
    folder: str = typer.Option(
        None, help="Content folder (default: the starter knowledge base shipped with kefu)."
    ),
) -> None:
    """Load knowledge-base articles and templates; running it again changes nothing."""
    from pathlib import Path

    from kefu.kb.loader import load_content

    settings = get_settings()
    prepare_database(settings.database_url)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        report = load_content(session, Path(folder) if folder else None)
    engine.dispose()
    typer.echo(str(report))


@bot_app.command("train")
def bot_train(
    data: Path = typer.Option(
        None, "--data", help="CSV with text,label (default: the shipped zh/en intent data)."
    ),
) -> None:
    """Train the intent model and write it to KEFU_BOT_DATA_DIR."""
    import time

    from kefu.bot.service import train

    start = time.perf_counter()
    model, path = train(get_settings(), data)
    typer.echo(
        f"trained {len(model.labels)} intents in {time.perf_counter() - start:.1f} s "
        f"(out-of-scope threshold {model.threshold:.2f}); wrote {path}"
    )


@bot_app.command("eval")
def bot_eval(
    data: Path = typer.Option(..., "--data", help="CSV with text,label to score the model on."),
    latency_samples: int = typer.Option(200, help="Messages timed one at a time."),
) -> None:
    """Score the current model: accuracy, macro-F1, out-of-scope recall, latency p50/p99."""
    from kefu.bot.evaluation import evaluate, latency_ms, read_examples
    from kefu.bot.service import classifier

    try:
        examples = read_examples(data)
    except (OSError, ValueError) as error:
        typer.echo(f"cannot read {data}: {error}", err=True)
        raise typer.Exit(code=2) from None
    model = classifier(get_settings())
    texts, labels = [e.text for e in examples], [e.label for e in examples]
    report = evaluate(model, texts, labels, progress=True)
    p50, p99 = latency_ms(model, texts[:latency_samples], progress=True)
    typer.echo(f"examples      {report.examples}")
    typer.echo(f"accuracy      {report.accuracy:.2%}")
    typer.echo(f"macro-F1      {report.macro_f1:.4f}")
    if report.oos_recall is not None:
        typer.echo(f"oos recall    {report.oos_recall:.2%}")
    typer.echo(f"answered      {report.answered:.2%} (rest handed to people)")
    typer.echo(f"latency p50   {p50:.1f} ms")
    typer.echo(f"latency p99   {p99:.1f} ms")


@mfa_app.command("demo-code")
def mfa_demo_code(email: str) -> None:
    """Print a demo agent's current authenticator code (from the published demo key; the
    demo's agents only). Each code works once: if it was just used, wait for the next."""
    from kefu.core.clock import utcnow
    from kefu.demo.seed import demo_totp_secret, is_demo_agent
    from kefu.identity.mfa import totp

    if not is_demo_agent(email):
        typer.echo(f"{email} is not a demo agent; demo codes exist only for them", err=True)
        raise typer.Exit(code=1)
    now = utcnow()
    step = totp.step_of(now)
    left = totp.STEP_SECONDS - int(now.timestamp()) % totp.STEP_SECONDS
    typer.echo(totp.code_at_step(demo_totp_secret(email), step))
    typer.echo(f"valid for {left} more seconds (and the 30 after); each code works once", err=True)


if __name__ == "__main__":
    app()
