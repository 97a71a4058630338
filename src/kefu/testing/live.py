"""Run kefu as a real server process for browser and multi-worker tests.

A `LiveServer` is `uvicorn kefu.app:create_app` in a subprocess, configured only through
`KEFU_*` environment variables, exactly as an operator would run it. Tests can stop it and
start it again on the same port and database (a restart mid-conversation), or run two of
them on one PostgreSQL database (two web workers behind a load balancer).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from kefu.testing.net import free_port


class LiveServerError(RuntimeError):
    pass


class LiveServer:
    """One kefu web worker on 127.0.0.1. Its output goes to `log_path` (shown on failure)."""

    def __init__(
        self,
        database_url: str,
        *,
        log_path: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        self.database_url = database_url
        self.port = port or free_port()
        self.log_path = log_path
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        env.update(
            {
                "KEFU_DATABASE_URL": self.database_url,
                "KEFU_HOST": "127.0.0.1",
                "KEFU_PORT": str(self.port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env)
        return env

    def start(self) -> LiveServer:
        if self.running:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "kefu.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, env=self._environment(), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._wait_until_healthy()
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise LiveServerError(f"kefu exited at startup:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise LiveServerError(
            f"kefu did not become healthy in {self.startup_timeout} s:\n{self.tail()}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> LiveServer:
        """Stop and start again on the same port and database, as a deploy would."""
        self.stop()
        return self.start()

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
