"""Real witnesses and a real Docket on 127.0.0.1 for the publication tests.

- `WitnessProcess`: `docket witness serve` in its own process (its key made with
  `docket witness key`), on a port chosen up front so that it can be stopped and started
  again at the same URL;
- `running_docket(...)`: the app under uvicorn in a thread (lifespan, checkpoint writer and
  witness submitter included) with a secretariat token made before it starts;
- `wait_for(...)`: polls until a condition holds (asserting nothing about time itself).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from events.witnessing import WitnessConfig
from service.app import create_app
from service.platform.db import create_engine
from service.platform.settings import Settings
from service.platform.tokens import create_token
from tests.api.conftest import submission
from tests.conftest import run_async
from tests.serving import free_port, serve

DOCKET = str(Path(sys.executable).with_name("docket"))
T = TypeVar("T")


def docket(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `docket` command of this environment; its completed process."""
    return subprocess.run([DOCKET, *args], capture_output=True, text=True, check=check, timeout=120)


@dataclass
class WitnessProcess:
    """One `docket witness serve` for the log `log_vkey`, stoppable and restartable."""

    name: str
    key_file: Path
    database: Path
    log_vkey: str
    port: int = field(default_factory=free_port)
    vkey: str = ""
    process: subprocess.Popen[bytes] | None = None
    algorithm: str = "ed25519"

    def __post_init__(self) -> None:
        made = docket(
            "witness", "key", str(self.key_file), "--name", self.name,
            "--algorithm", self.algorithm,
        )  # fmt: skip
        self.vkey = made.stdout.strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> WitnessConfig:
        return WitnessConfig(self.url, self.vkey)

    def start(self) -> WitnessProcess:
        command = [
            DOCKET, "witness", "serve", "--key", str(self.key_file), "--name", self.name,
            "--log", self.log_vkey, "--database", f"sqlite+aiosqlite:///{self.database}",
            "--port", str(self.port),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        wait_for(self._answers, f"witness {self.name} to start", timeout=60)
        return self

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "the witness exited"
        try:
            return httpx.get(self.url + "/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@contextmanager
def witness_processes(
    tmp_path: Path, log_vkey: str, count: int = 3, start: bool = True
) -> Iterator[list[WitnessProcess]]:
    """`count` witnesses of `log_vkey` (started unless `start` is False); stopped after."""
    witnesses = [
        WitnessProcess(
            f"w{i}.ngo.example/w", tmp_path / f"witness{i}.pem", tmp_path / f"w{i}.db", log_vkey
        )
        for i in range(count)
    ]
    try:
        if start:
            for witness in witnesses:
                witness.start()
        yield witnesses
    finally:
        for witness in witnesses:
            witness.stop()


def wait_for(condition: Callable[[], T | bool | None], what: str, timeout: float = 60) -> T:
    """The first truthy value of `condition()`, polled every 0.1 s; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value  # type: ignore[return-value]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Docket:
    """A running Docket: its URL, its app (for its runtime) and a secretariat token."""

    url: str
    app: FastAPI
    token: str

    def submit(self, count: int, title: str = "Tuberculosis diagnostics") -> list[float]:
        """Submit `count` requests; each command's latency in seconds."""
        latencies = []
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for i in range(count):
                started = time.perf_counter()
                answer = http.post(
                    "/v1/requests",
                    json=submission(title=f"{title} {i}"),
                    headers={"Authorization": f"Bearer {self.token}"},
                )
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 201, answer.text
        return latencies

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params or None, timeout=30)

    def published_note(self) -> str | None:
        answer = self.get("/public/log/checkpoint")
        return answer.text if answer.status_code == 200 else None


def docket_settings(
    database_url: str, key_file: Path, witnesses: list[WitnessConfig], quorum: int, **more: Any
) -> Settings:
    options: dict[str, Any] = {
        "database_url": database_url,
        "environment": "test",
        "signing_key_file": key_file,
        "witnesses": tuple(witnesses),
        "witness_quorum": quorum,
        "witness_timeout_seconds": 3.0,
        "witness_retry_seconds": 0.5,
        "checkpoint_interval_events": 1000,
        "checkpoint_interval_seconds": 0.2,
    }
    return Settings(**(options | more))


@contextmanager
def running_docket(settings: Settings) -> Iterator[Docket]:
    """The app on `settings` under uvicorn until the block ends."""

    async def token() -> str:
        engine = create_engine(settings.database_url)
        try:
            return await create_token(engine, "secretariat", "sec", None)
        finally:
            await engine.dispose()

    secret = run_async(token)
    app = create_app(settings)
    with serve(app) as url:
        yield Docket(url, app, secret)
