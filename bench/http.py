"""A `docket serve` process for the HTTP benchmarks, and a small keep-alive HTTP/1.1 load
client on raw asyncio streams (httpx costs ~0.5 ms of CPU a request, which on 2 cores
would measure the client, not the server)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docket() -> str:
    return str(Path(sys.executable).with_name("docket"))


@dataclass
class Server:
    port: int
    token: str
    env: dict[str, str]
    #: the `docket serve` process (with `--workers N`, uvicorn's supervisor)
    pid: int = 0
    #: the `docket work` process beside it, if any
    work_pid: int = 0

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far (its worker processes included)."""
        return process_cpu_seconds(self.pid)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its children still running (Linux /proc):
    a figure of the server's own cost per answer that the other jobs on the machine
    hardly move, unlike its wall-clock rate."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        pending += [int(child) for child in children]
    return total


@contextmanager
def serve(url: str, *, workers: int = 1, separate_work: bool = False) -> Iterator[Server]:
    """`docket serve` on `url` (a migrated database) until the block ends; a secretariat
    token for it. `separate_work`: the background work (projections, checkpoints) in a
    `docket work` process beside it, the API process started with
    DOCKET_SERVE_BACKGROUND=false (docs/OPERATIONS.md)."""
    tmp = Path(tempfile.mkdtemp(prefix="docket-bench-http-"))
    env = {
        **os.environ,
        "DOCKET_DATABASE_URL": url,
        "DOCKET_LOG_LEVEL": "WARNING",
        "DOCKET_LOG_FORMAT": "json",
        "DOCKET_SIGNING_KEY_FILE": str(tmp / "signing.key"),
        "DOCKET_CHECKPOINT_INTERVAL_SECONDS": "3600",
        "DOCKET_CHECKPOINT_INTERVAL_EVENTS": "100000000",
    }
    token = subprocess.run(
        [_docket(), "token", "create", "--role", "secretariat", "--name", "bench"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    port = _free_port()
    args = [_docket(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    background: subprocess.Popen[bytes] | None = None
    if separate_work:
        env["DOCKET_SERVE_BACKGROUND"] = "false"
        background = subprocess.Popen(
            [_docket(), "work"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"docket serve did not start: {err[-2000:]}") from None
                time.sleep(0.2)
        # The server's projection worker catches up from the copied log at start; measure
        # the steady state, not the catch-up (readyz: projections within the lag bound).
        ready = request_bytes("GET", "/readyz", port, None)
        while time.monotonic() < deadline + 240:
            if asyncio.run(one(port, ready))[0] == 200:
                break
            time.sleep(0.5)
        yield Server(port, token, env, process.pid, background.pid if background else 0)
    finally:
        for running in (process, background):
            if running is None:
                continue
            running.terminate()
            try:
                running.wait(15)
            except subprocess.TimeoutExpired:
                running.kill()
                running.wait()


@dataclass
class Load:
    """What a load run counted: answers by status and latencies (seconds) of each."""

    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    #: the server's CPU seconds in the measured window (when `run_load` had a `cpu` probe)
    server_cpu: float = 0.0

    @property
    def answers(self) -> int:
        return sum(self.statuses.values())

    def cpu_per_answer_us(self) -> float:
        """The server's CPU microseconds per answer in the measured window."""
        return self.server_cpu / self.answers * 1e6 if self.answers else float("nan")

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def request_bytes(
    method: str, path: str, port: int, token: str | None, body: object | None = None
) -> bytes:
    payload = b"" if body is None else orjson.dumps(body)
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run_load(
    port: int,
    connections: int,
    next_request: Callable[[int, int], bytes],
    *,
    seconds: float,
    warmup: float = 1.5,
    cpu: Callable[[], float] | None = None,
) -> Load:
    """`connections` keep-alive connections, each sending `next_request(conn, n)` and
    waiting for its answer, for `warmup` + `seconds`; counts only the last `seconds`
    (and the server's CPU time in them, read with `cpu()`, if given)."""
    load = Load()
    measuring = False
    stop = False

    async def connection(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        try:
            while not stop:
                request = next_request(k, n)
                n += 1
                start = time.perf_counter()
                status, _ = await _exchange(reader, writer, request)
                if measuring and not stop:
                    load.latencies.append(time.perf_counter() - start)
                    load.statuses[status] = load.statuses.get(status, 0) + 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(connection(k)) for k in range(connections)]
    await asyncio.sleep(warmup)
    measuring = True
    cpu_start = cpu() if cpu is not None else 0.0
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    stop = True
    load.seconds = time.perf_counter() - start
    if cpu is not None:
        load.server_cpu = cpu() - cpu_start
    await asyncio.gather(*tasks, return_exceptions=True)
    return load


async def one(port: int, request: bytes) -> tuple[int, bytes, float]:
    """One request on a new connection: status, body, seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        start = time.perf_counter()
        status, body = await _exchange(reader, writer, request)
        return status, body, time.perf_counter() - start
    finally:
        writer.close()


class Session:
    """One keep-alive connection for sequential requests (latency benchmarks)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._pair: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: bytes) -> tuple[int, bytes, float]:
        if self._pair is None:
            self._pair = await asyncio.open_connection("127.0.0.1", self.port)
        start = time.perf_counter()
        status, body = await _exchange(*self._pair, request)
        return status, body, time.perf_counter() - start

    def close(self) -> None:
        if self._pair is not None:
            self._pair[1].close()
