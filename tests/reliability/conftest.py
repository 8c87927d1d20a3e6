"""Real `docket serve` processes on a fresh PostgreSQL database, for the R-tests (SPEC §11).

A `Deployment` owns one database `docket_rel_<uuid>` (migrated with `docket migrate`), a
working directory (signing key, server logs), two tokens made with `docket token create`,
and any number of uvicorn processes started with `docket serve --port P` on free loopback
ports. Everything it starts is stopped, and the database dropped, when the test ends.

Short forms of the tests always run; long forms are marked `slow` and run only with
`DOCKET_SOAK=1` (`make soak`). PostgreSQL tests skip when the server is unreachable,
except under `CI=true`, where they fail (see `tests/conftest.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

import service
from tests.conftest import PostgresServer, run_async

#: The tree the servers run from: wherever `service` was imported from.
ROOT = Path(service.__file__).resolve().parent.parent
SOAK = os.environ.get("DOCKET_SOAK") == "1"
PROBLEM = "application/problem+json"

soak_only = pytest.mark.skipif(not SOAK, reason="long form: set DOCKET_SOAK=1 (make soak)")

#: The committee the load tests seat: the five permanent members and elected ones.
MEMBERS = ["CHN", "FRA", "GBR", "RUS", "USA", "DNK", "GRC", "PAK", "PAN", "SOM"]

SUBMISSION: dict[str, Any] = {
    "applicant": {"name": "Médecins du Monde", "kind": "ngo"},
    "channel": "resident_coordinator",
    "title": "Tuberculosis diagnostics for North Hwanghae",
    "purpose": "Diagnose and treat tuberculosis in provincial hospitals.",
    "beneficiaries": "About 12,000 patients in 14 county hospitals.",
    "items": [
        {
            "description": "GeneXpert cartridges",
            "hs_code": "3822.19",
            "quantity": 5000,
            "unit": "cartridge",
            "value_usd": 49_950,
        }
    ],
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One `docket serve` process."""

    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_seconds: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*_docket(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.env["DOCKET_REL_WORKDIR"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on port {self.port} not healthy in {wait_seconds}s")

    def kill(self) -> None:
        """`kill -9`: no shutdown, no cleanup."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL after the grace period."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _docket() -> list[str]:
    return [sys.executable, "-c", "from service.cli import app; app()"]


@dataclass
class Deployment:
    """A fresh PostgreSQL database with its tokens, and the servers started on it."""

    pg: PostgresServer
    database: str
    workdir: Path
    env: dict[str, str]
    servers: list[Server] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.pg.url_for(self.database)

    @property
    def dsn(self) -> str:
        return self.pg.dsn.rsplit("/", 1)[0] + "/" + self.database

    def docket(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run the `docket` command line against this database."""
        return subprocess.run(
            [*_docket(), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def serve(self) -> Server:
        server = Server(free_port(), self.env, self.workdir / f"server-{len(self.servers)}.log")
        self.servers.append(server)
        server.start()
        return server

    def headers(self, role: str = "secretariat", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.log_path.name}\n{s.tail()}" for s in self.servers)

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
            return rows
        finally:
            await conn.close()


@pytest.fixture
def deployment(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Deployment]:
    """A migrated database `docket_rel_<uuid>` with a secretariat and an auditor token."""
    name = f"docket_rel_{uuid.uuid4().hex}"
    run_async(lambda: postgres_server.execute(f"CREATE DATABASE {name}"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")},
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "DOCKET_DATABASE_URL": postgres_server.url_for(name),
        "DOCKET_ENVIRONMENT": "test",
        "DOCKET_LOG_LEVEL": "WARNING",
        "DOCKET_LOG_FORMAT": "json",
        "DOCKET_SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
        "DOCKET_REL_WORKDIR": str(tmp_path),
    }
    dep = Deployment(postgres_server, name, tmp_path, env)
    try:
        migrated = dep.docket("migrate")
        assert migrated.returncode == 0, migrated.stderr
        for role in ("secretariat", "auditor"):
            made = dep.docket("token", "create", "--role", role, "--name", f"rel-{role}")
            assert made.returncode == 0, made.stderr
            dep.tokens[role] = made.stdout.strip().splitlines()[-1]
        yield dep
    finally:
        dep.stop_all()
        run_async(lambda: postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# -- helpers shared by the tests -------------------------------------------------------------


async def seat_committee(client: httpx.AsyncClient, dep: Deployment) -> None:
    """Seat `MEMBERS` (permanent ones without a term end; elected ones for a term around
    the day the test runs, so that holds placed now are by seated members on any day)."""
    year = datetime.now(UTC).year
    for member in MEMBERS:
        permanent = member in {"CHN", "FRA", "GBR", "RUS", "USA"}
        body = {
            "member": member,
            "term_start": "2025-01-01" if permanent else f"{year - 1}-01-01",
            "term_end": None if permanent else f"{year + 1}-12-31",
            "occurred_at": "2026-01-01T00:00:00Z",
        }
        r = await client.post("/v1/committee/members", json=body, headers=dep.headers())
        assert r.status_code == 201, r.text


async def open_requests(client: httpx.AsyncClient, dep: Deployment, count: int) -> list[str]:
    """Submit and circulate `count` requests; return their ids."""
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with sem:
            body = {
                **SUBMISSION,
                "request_id": f"REL-{i:05d}",
                "occurred_at": "2026-02-02T15:00:00Z",
            }
            r = await client.post("/v1/requests", json=body, headers=dep.headers())
            assert r.status_code == 201, r.text
            r = await client.post(
                f"/v1/requests/REL-{i:05d}/circulate",
                json={"occurred_at": "2026-02-02T16:00:00Z"},
                headers=dep.headers(),
            )
            assert r.status_code == 200, r.text
            return f"REL-{i:05d}"

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def all_events(client: httpx.AsyncClient, dep: Deployment) -> list[dict[str, Any]]:
    """The whole log through `GET /v1/events`, page by page (bounded)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10_000):
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/v1/events", params=params, headers=dep.headers("auditor"))
        assert r.status_code == 200, r.text
        page = r.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("the log did not end within 10,000 pages")


async def head_position(client: httpx.AsyncClient, dep: Deployment) -> int:
    """The last position of the log, read straight from the database."""
    rows = await dep.sql("SELECT coalesce(max(position), 0) AS head FROM events")
    return int(rows[0]["head"])


async def wait_caught_up(
    client: httpx.AsyncClient, headers: dict[str, str], seconds: float = 30.0
) -> None:
    """Poll `/readyz` until the projections have no lag (bounded). The lag is told only to
    a secretariat or auditor token: pass `dep.headers()`."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            r = await client.get("/readyz", headers=headers)
            last = r.text
            if r.status_code == 200 and r.json().get("projection_lag") == 0:
                return
        except httpx.HTTPError as error:
            last = repr(error)
        await asyncio.sleep(0.2)
    raise AssertionError(f"projections did not catch up in {seconds}s: {last}")


PROJECTION_TABLES = {
    "request_state": "request_id",
    "holds": "position",
}


async def projection_rows(dep: Deployment) -> dict[str, list[Any]]:
    """Every row of every projection table, as JSON, in key order."""
    out: dict[str, list[Any]] = {}
    for table, key in PROJECTION_TABLES.items():
        rows = await dep.sql(f"SELECT to_jsonb(t)::text AS j FROM {table} t ORDER BY {key}")
        out[table] = [json.loads(row["j"]) for row in rows]
    return out


def assert_rebuild_equal(dep: Deployment, before: dict[str, list[Any]]) -> None:
    """`docket rebuild` (servers stopped: they hold the projection lock) gives `before`."""
    rebuilt = dep.docket("rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr + rebuilt.stdout
    after = run_async(lambda: projection_rows(dep))
    for table in PROJECTION_TABLES:
        assert len(after[table]) == len(before[table]), table
        for old, new in zip(before[table], after[table], strict=True):
            assert old == new, f"{table}: incremental {old} != rebuilt {new}"


def assert_verify_ok(dep: Deployment) -> str:
    verified = dep.docket("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return verified.stdout.strip()


def check_log(log: list[dict[str, Any]], acknowledged: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Positions 1..n, versions 1..k per stream, every acknowledged event exactly once and
    where its answer said. Returns counts for the report."""
    positions = [e["position"] for e in log]
    assert positions == list(range(1, len(log) + 1)), "positions are not 1..n without gaps"
    ids = [e["event_id"] for e in log]
    assert len(set(ids)) == len(ids), "an event id appears twice in the log"
    versions: dict[str, list[int]] = {}
    for e in log:
        versions.setdefault(e["stream_id"], []).append(e["stream_version"])
    for stream, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"versions of {stream} have gaps: {seen}"
    by_id = {e["event_id"]: e for e in log}
    lost = [eid for eid in acknowledged if eid not in by_id]
    assert not lost, f"{len(lost)} acknowledged events are not in the log: {lost[:5]}"
    for eid, acked in acknowledged.items():
        stored = by_id[eid]
        for key in ("position", "stream_id", "stream_version", "event_type", "hash"):
            assert stored[key] == acked[key], f"event {eid}: {key} {stored[key]} != {acked[key]}"
    return {"events": len(log), "acknowledged": len(acknowledged), "lost": len(lost)}


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures (pytest -s shows them) and append them to a file for the docs."""
    line = json.dumps({"test": name, "soak": SOAK, **figures}, sort_keys=True)
    print(line)
    out = os.environ.get("DOCKET_REL_REPORT")
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
