"""Start a throwaway PostgreSQL cluster on loopback for tests and benchmarks.

Uses the server binaries of the machine (Debian's `postgresql` package). PostgreSQL refuses
to run as root, so under root the cluster is created and started as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from kefu.testing.net import free_port


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    env = os.environ.get("KEFU_PG_BINDIR")
    if env:
        return Path(env)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable("PostgreSQL server binaries (initdb) not found; install postgresql")


@dataclass
class PostgresCluster:
    datadir: Path
    port: int
    bindir: Path
    as_user: str | None

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)  # noqa: S603 - our own binaries

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_cluster(fsync: bool = False) -> PostgresCluster:
    """initdb + start on a free loopback port; fsync off by default (tests), on for benchmarks."""
    bindir = _bindir()
    as_user = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="kefu-pg-"))
    datadir = base / "data"
    if as_user:
        shutil.chown(base, user=as_user)
        os.chmod(base, 0o700)
    cluster = PostgresCluster(datadir=datadir, port=free_port(), bindir=bindir, as_user=as_user)
    cluster._run(
        "initdb",
        "-D",
        str(datadir),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    )
    options = f"-p {cluster.port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not fsync:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    cluster._run(
        "pg_ctl",
        "-D",
        str(datadir),
        "-o",
        options,
        "-l",
        str(base / "log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(cluster.admin_dsn, connect_timeout=2).close()
            return cluster
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
