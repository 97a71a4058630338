"""The `kefu` command: serve, demo, migrate, worker, audit verify."""

from __future__ import annotations

import logging
import threading

import typer
import uvicorn

from kefu.bootstrap import prepare_database
from kefu.core.db import make_engine, session_scope
from kefu.core.settings import get_settings

app = typer.Typer(help="kefu — support desk for cryptocurrency exchanges.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
kb_app = typer.Typer(help="The knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


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


if __name__ == "__main__":
    app()
