"""Benchmark the tickets API against the raw insert rate of the PostgreSQL it runs on.

One command, nothing to prepare:

    python bench/tickets_api.py [--concurrency 8] [--creates 2000] [--lists 1000] [--json]

It starts a throwaway PostgreSQL with fsync on (a 2xx must mean durable, invariant 7), migrates
a database, creates an agent and customers through the services, and starts the real server
(uvicorn, `kefu.app:create_app`) in a subprocess. It then drives, from a bounded pool of client
threads, POST /api/v1/tickets (each with an Idempotency-Key) and GET /api/v1/tickets?limit=50,
and measures one-row-per-transaction INSERTs straight into the same cluster over psycopg as the
floor: the API can never beat a durable commit per request, so the ratio says how much of the
budget kefu itself spends. Everything it started is stopped in `finally`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pyotp

from kefu.core.db import make_engine, session_scope
from kefu.identity import service as identity
from kefu.identity.models import Role
from kefu.migrations import upgrade
from kefu.sla import service as sla
from kefu.testing.postgres import PostgresCluster, start_cluster
from kefu.wiring import wire

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PASSWORD = "bench-password-0123"
CATEGORIES = ("account", "kyc", "deposit", "withdrawal", "trading", "futures", "policy", "other")
SUBJECTS = (
    ("en", "Withdrawal stuck pending for {n} hours"),
    ("en", "Deposit of 0.{n} BTC not credited"),
    ("zh-CN", "充值USDT未到账 TRC20 #{n}"),
    ("zh-CN", "提现一直处理中 #{n}"),
)


# --- measuring -------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    error_samples: list[str] = field(default_factory=list)
    # CPU the server processes spent during the phase (None: not measured, or no /proc).
    server_cpu_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds * 1000 / self.requests

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the successful requests' latencies."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(1, round(p / 100 * len(ordered) + 0.5))
        return ordered[min(rank, len(ordered)) - 1]

    def summary(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
            "server_cpu_ms_per_request": (
                None
                if self.server_cpu_ms_per_request is None
                else round(self.server_cpu_ms_per_request, 2)
            ),
            "error_samples": self.error_samples[:5],
        }


class Progress:
    """A `\\r` counter on stderr, so a long phase visibly moves without flooding the log."""

    def __init__(self, name: str, total: int) -> None:
        self.name, self.total = name, total
        self.done = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tick(self) -> None:
        with self._lock:
            self.done += 1

    def _line(self) -> str:
        return f"\r  {self.name:<8} {self.done:>6}/{self.total}"

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            sys.stderr.write(self._line())
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.stderr.write(self._line() + "\n")
        sys.stderr.flush()


Worker = Callable[[int], tuple[bool, str]]


def run_phase(
    name: str,
    total: int,
    concurrency: int,
    make_worker: Callable[[], Worker],
    server_cpu: Callable[[], float | None] | None = None,
) -> PhaseResult:
    """Run `total` calls from `concurrency` threads; each thread builds its own client.

    A call returns (ok, error text). Latency is measured around the call only; `server_cpu`
    (CPU seconds used so far by the server) is read before and after the phase.
    """
    counter = iter(range(total))
    counter_lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    results_lock = threading.Lock()
    ready = threading.Barrier(concurrency + 1)

    def next_index() -> int | None:
        with counter_lock:
            return next(counter, None)

    def thread_main(progress: Progress) -> None:
        worker = make_worker()
        ready.wait()
        local: list[float] = []
        local_errors: list[str] = []
        while (index := next_index()) is not None:
            started = time.perf_counter()
            try:
                ok, detail = worker(index)
            except Exception as exc:  # a failed request is a result, not a crash
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                local.append(elapsed)
            else:
                local_errors.append(detail)
            progress.tick()
        with results_lock:
            latencies.extend(local)
            errors.extend(local_errors)

    with Progress(name, total) as progress:
        threads = [
            threading.Thread(target=thread_main, args=(progress,), daemon=True)
            for _ in range(concurrency)
        ]
        for thread in threads:
            thread.start()
        ready.wait()  # clients are connected: start the clock only now
        cpu_before = server_cpu() if server_cpu else None
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        cpu_after = server_cpu() if server_cpu else None
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return PhaseResult(name, total, len(errors), seconds, latencies, errors[:5], cpu)


# --- the system under test -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server and its worker processes so far, from /proc
        (Linux); None elsewhere. Per request, it says what kefu itself costs."""
        try:
            pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
            total = 0
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except (FileNotFoundError, ProcessLookupError):
                    continue  # gone since the listing
                # fields[1] is the parent pid; [11], [12] are utime, stime in clock ticks.
                if pid == self.process.pid or int(fields[1]) == self.process.pid:
                    total += int(fields[11]) + int(fields[12])
        except OSError:
            return None
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(database_url: str, workers: int, log: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": database_url,
        "KEFU_EMBEDDED_WORKER": "false",
        "KEFU_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "uvicorn", "kefu.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server did not answer /healthz in 60 s:\n{log.read_text()}")
        time.sleep(0.2)


def prepare_database(cluster: PostgresCluster, customers: int) -> tuple[str, str, list[str]]:
    """A migrated database with an agent, customers and the default SLA policies, made through
    the services."""
    url = cluster.create_database("kefu_bench")
    upgrade(url)
    wire()
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            agent = identity.create_agent(
                session,
                email="bench@bench.kefu",
                display_name="Bench Agent",
                password=PASSWORD,
                role=Role.AGENT,
                teams=["support"],
                languages=["en", "zh-CN"],
            )
            agent.max_open_tickets = 1_000_000
            customer_ids = [
                identity.upsert_customer(
                    session,
                    external_id=f"bench-{n}",
                    display_name=f"Bench Customer {n}",
                    jurisdiction="SG" if n % 2 else "DE",
                    language="zh-CN" if n % 3 == 0 else "en",
                    email=f"bench{n}@example.com",
                ).id
                for n in range(customers)
            ]
            email = agent.email
            # The out-of-the-box SLA policies, so each create also starts its SLA clock.
            sla.ensure_default_policies(session)
    finally:
        engine.dispose()
    return url, email, customer_ids


def login(base_url: str, email: str) -> str:
    """Password, then the agent's second factor: the bench agent enrols an authenticator."""
    response = httpx.post(
        f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    token = str(response.json()["token"])
    if response.json().get("mfa_required"):
        headers = {"Authorization": f"Bearer {token}"}
        begun = httpx.post(f"{base_url}/api/v1/mfa/totp", headers=headers, timeout=30)
        begun.raise_for_status()
        code = pyotp.TOTP(begun.json()["secret"]).now()
        httpx.post(
            f"{base_url}/api/v1/mfa/totp/confirm", json={"code": code}, headers=headers, timeout=30
        ).raise_for_status()
    return token


def api_create_worker(base_url: str, token: str, customer_ids: list[str]) -> Callable[[], Worker]:
    def make() -> Worker:
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        rng = random.Random()

        def create(index: int) -> tuple[bool, str]:
            language, subject = rng.choice(SUBJECTS)
            body = {
                "subject": subject.format(n=index),
                "body": f"Benchmark ticket {index}: txid {uuid.uuid4().hex}{uuid.uuid4().hex}",
                "category": rng.choice(CATEGORIES),
                "language": language,
                "customer_id": rng.choice(customer_ids),
                "tags": ["bench"],
            }
            response = client.post(
                "/api/v1/tickets", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            return response.status_code == 201, f"{response.status_code} {response.text[:200]}"

        return create

    return make


def api_list_worker(base_url: str, token: str) -> Callable[[], Worker]:
    def make() -> Worker:
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

        def list_page(_index: int) -> tuple[bool, str]:
            response = client.get("/api/v1/tickets", params={"limit": 50})
            ok = response.status_code == 200 and len(response.json()["items"]) == 50
            return ok, f"{response.status_code} {response.text[:200]}"

        return list_page

    return make


def raw_insert_worker(dsn: str) -> Callable[[], Worker]:
    def make() -> Worker:
        connection = psycopg.connect(dsn, autocommit=True)

        def insert(index: int) -> tuple[bool, str]:
            connection.execute(
                "INSERT INTO bench_raw (payload) VALUES (%s)", (f"row {index} {uuid.uuid4()}",)
            )
            return True, ""

        return insert

    return make


# --- reporting -------------------------------------------------------------------------------


def print_table(phases: list[PhaseResult]) -> None:
    header = (
        f"{'phase':<24} {'requests':>8} {'errors':>6} {'req/s':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'server CPU ms/req':>18}"
    )
    print(header)
    print("-" * len(header))
    for phase in phases:
        cpu = phase.server_cpu_ms_per_request
        print(
            f"{phase.name:<24} {phase.requests:>8} {phase.errors:>6} {phase.per_second:>9.1f} "
            f"{phase.percentile(50):>8.2f} {phase.percentile(95):>8.2f} "
            f"{phase.percentile(99):>8.2f}" + ("" if cpu is None else f" {cpu:>18.2f}")
        )
        for sample in phase.error_samples[:3]:
            print(f"    error: {sample}")


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--creates", type=int, default=2000, help="POST /api/v1/tickets calls")
    parser.add_argument("--lists", type=int, default=1000, help="GET /api/v1/tickets calls")
    parser.add_argument("--inserts", type=int, default=None, help="raw INSERTs (default --creates)")
    parser.add_argument("--customers", type=int, default=50, help="customers to spread tickets on")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests per API phase")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--json", action="store_true", help="also write bench/results/*.json")
    args = parser.parse_args()
    inserts = args.inserts if args.inserts is not None else args.creates

    cluster: PostgresCluster | None = None
    server: Server | None = None
    workdir = Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    try:
        sys.stderr.write("starting PostgreSQL (fsync on) ...\n")
        cluster = start_cluster(fsync=True)
        url, email, customer_ids = prepare_database(cluster, args.customers)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            pg_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            fsync = str(conn.execute("SHOW fsync").fetchone()[0])  # type: ignore[index]
            conn.execute(
                "CREATE TABLE bench_raw (id bigserial PRIMARY KEY, payload text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            )
        sys.stderr.write(f"starting kefu (uvicorn, {args.server_workers} worker) ...\n")
        server = start_server(url, args.server_workers, workdir / "server.log")
        token = login(server.base_url, email)

        creates = api_create_worker(server.base_url, token, customer_ids)
        lists = api_list_worker(server.base_url, token)
        if args.warmup:
            run_phase("warmup", args.warmup, args.concurrency, creates)
        cpu = server.cpu_seconds
        phases = [
            run_phase("POST /api/v1/tickets", args.creates, args.concurrency, creates, cpu),
            run_phase("GET /api/v1/tickets", args.lists, args.concurrency, lists, cpu),
            run_phase("raw INSERT (psycopg)", inserts, args.concurrency, raw_insert_worker(dsn)),
        ]
    finally:
        if server is not None:
            server.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    api, _listing, raw = phases
    print()
    print(
        f"kefu tickets API vs raw PostgreSQL {pg_version} (fsync={fsync}), "
        f"concurrency {args.concurrency}, {os.cpu_count()} CPUs, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print()
    print_table(phases)
    throughput_ratio = api.per_second / raw.per_second if raw.per_second else float("nan")
    p99_ratio = api.percentile(99) / raw.percentile(99)
    print()
    print(f"API creates/s ÷ raw single-row inserts/s = {throughput_ratio:.3f}")
    print(f"API create p99 ÷ raw insert p99          = {p99_ratio:.1f}x")

    if args.json:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS / f"tickets_api-{stamp}.json"
        path.write_text(
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "machine": machine(),
                    "postgresql": {"version": pg_version, "fsync": fsync},
                    "config": {**vars(args), "inserts": inserts},
                    "phases": {p.name: p.summary() for p in phases},
                    "ratios": {
                        "api_creates_per_raw_insert": round(throughput_ratio, 4),
                        "api_create_p99_per_raw_insert_p99": round(p99_ratio, 2),
                    },
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"\nwrote {path.relative_to(HERE.parent)}")
    failed = sum(p.errors for p in phases)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
