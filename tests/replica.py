"""A real PostgreSQL hot standby for tests: a primary cluster and a streaming replica.

Both clusters live in one temporary directory, on free loopback ports, made with the
server binaries under `/usr/lib/postgresql/<version>/bin` (or `DOCKET_PG_BIN`): `initdb`
for the primary (trust auth, `wal_level=replica`, replication allowed from 127.0.0.1),
`pg_basebackup -R` for the standby, `pg_ctl` for both. `initdb` refuses to run as root,
so under root every server command runs as the `postgres` OS user, which owns the
directory. Everything is stopped and removed on exit, also when the body fails.

The binaries absent: `standby_unavailable` skips with the reason, and fails under
`CI=true`, where a missing server is a broken machine rather than a choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

SERVER_TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
SERVER_USER = "postgres"
START_TIMEOUT_S = 60


class StandbyUnavailable(RuntimeError):
    """The machine cannot run a private primary and standby (no binaries, no user)."""


def standby_unavailable(reason: str) -> None:
    """Skip the test with `reason`; fail instead under `CI=true`."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"a PostgreSQL hot standby is required under CI=true: {reason}")
    pytest.skip(f"no PostgreSQL hot standby: {reason}")


def server_bin_dir() -> Path:
    """The directory holding initdb, pg_ctl and pg_basebackup: `DOCKET_PG_BIN` or the
    newest `/usr/lib/postgresql/<version>/bin` that has them all."""
    configured = os.environ.get("DOCKET_PG_BIN")
    candidates = (
        [Path(configured)]
        if configured
        else sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    for candidate in candidates:
        if all((candidate / tool).is_file() for tool in SERVER_TOOLS):
            return candidate
    where = configured or "/usr/lib/postgresql/*/bin"
    raise StandbyUnavailable(f"{', '.join(SERVER_TOOLS)} not found under {where}")


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class _Runner:
    """Runs the server binaries, as `postgres` when we are root."""

    bin_dir: Path
    as_user: str | None

    def run(self, tool: str, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        argv = [str(self.bin_dir / tool), *args]
        if self.as_user is not None:
            argv = ["runuser", "-u", self.as_user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done.stdout


def _runner() -> _Runner:
    bin_dir = server_bin_dir()
    if os.geteuid() != 0:
        return _Runner(bin_dir, None)
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as error:
        raise StandbyUnavailable(f"running as root and no {SERVER_USER!r} user") from error
    if shutil.which("runuser") is None:
        raise StandbyUnavailable("running as root and no runuser to drop to postgres")
    return _Runner(bin_dir, SERVER_USER)


def _dsn(port: int, database: str = "postgres") -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


@dataclass
class HotStandby:
    """A running primary and its hot standby. URLs are SQLAlchemy's (asyncpg driver)."""

    root: Path
    primary_port: int
    standby_port: int
    runner: _Runner = field(repr=False)
    standby_running: bool = True

    # -- where -------------------------------------------------------------------------

    @property
    def primary_dir(self) -> Path:
        return self.root / "primary"

    @property
    def standby_dir(self) -> Path:
        return self.root / "standby"

    def primary_dsn(self, database: str = "postgres") -> str:
        return _dsn(self.primary_port, database)

    def standby_dsn(self, database: str = "postgres") -> str:
        return _dsn(self.standby_port, database)

    def primary_url(self, database: str = "postgres") -> str:
        return self.primary_dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)

    def standby_url(self, database: str = "postgres") -> str:
        return self.standby_dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)

    # -- replay ------------------------------------------------------------------------

    async def _on(self, dsn: str, sql: str) -> object:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def pause_replay(self) -> None:
        """Stop applying WAL on the standby: it keeps answering, with older data."""
        await self._on(self.standby_dsn(), "SELECT pg_wal_replay_pause()")
        # pausing is requested, then takes effect; wait until it has
        for _ in range(200):
            state = await self._on(self.standby_dsn(), "SELECT pg_get_wal_replay_pause_state()")
            if state == "paused":
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("WAL replay did not pause")

    async def resume_replay(self) -> None:
        await self._on(self.standby_dsn(), "SELECT pg_wal_replay_resume()")

    async def replay_lsn(self) -> str:
        """`pg_last_wal_replay_lsn()` on the standby: the WAL it has applied."""
        return str(await self._on(self.standby_dsn(), "SELECT pg_last_wal_replay_lsn()::text"))

    async def primary_lsn(self) -> str:
        """`pg_current_wal_lsn()` on the primary: the WAL it has written."""
        return str(await self._on(self.primary_dsn(), "SELECT pg_current_wal_lsn()::text"))

    async def wait_for_replay(self, within: float = 30.0) -> None:
        """Until the standby has applied everything the primary had written when called."""
        target = await self.primary_lsn()
        deadline = time.monotonic() + within
        while True:
            behind = await self._on(
                self.standby_dsn(),
                f"SELECT pg_wal_lsn_diff('{target}', pg_last_wal_replay_lsn()) > 0",
            )
            if not behind:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"standby did not replay up to {target} in {within}s")
            await asyncio.sleep(0.02)

    # -- the standby's life ------------------------------------------------------------

    def stop_standby(self) -> None:
        """Stop the standby (fast shutdown); its port refuses connections meanwhile."""
        if self.standby_running:
            self.runner.run("pg_ctl", "-D", str(self.standby_dir), "-m", "fast", "-w", "stop")
            self.standby_running = False

    def start_standby(self) -> None:
        """Start the standby again; it reconnects to the primary and catches up."""
        if not self.standby_running:
            self._start(self.standby_dir, "standby.log")
            self.standby_running = True

    def _start(self, data_dir: Path, log_name: str) -> None:
        self.runner.run(
            "pg_ctl", "-D", str(data_dir), "-l", str(self.root / log_name), "-w",
            "-t", str(START_TIMEOUT_S), "start",
        )  # fmt: skip

    def logs(self) -> str:
        """Both servers' logs, for a failure message."""
        parts = []
        for name in ("primary.log", "standby.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _settings(port: int, socket_dir: Path) -> Sequence[str]:
    # fsync off: the clusters are thrown away; durability is not what these tests prove.
    return (
        f"port = {port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{socket_dir}'",
        "wal_level = replica",
        "max_wal_senders = 4",
        "hot_standby = on",
        "fsync = off",
        "full_page_writes = off",
        "shared_buffers = 32MB",
        "max_connections = 60",
        "wal_receiver_status_interval = 1s",
        "log_min_messages = warning",
    )


def _append(path: Path, lines: Sequence[str]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write("\n# tests/replica.py\n" + "\n".join(lines) + "\n")


@contextlib.contextmanager
def hot_standby() -> Iterator[HotStandby]:
    """A primary and a hot standby streaming from it, removed on exit.

    Raises `StandbyUnavailable` when this machine has no server binaries to run."""
    runner = _runner()
    # under root the servers run as postgres, who must reach the directory: a private
    # TMPDIR (say under /root) would not do, /tmp (world-traversable) does
    parent = os.environ.get("DOCKET_REPLICA_DIR") or ("/tmp" if runner.as_user else None)
    root = Path(tempfile.mkdtemp(prefix="docket-replica-", dir=parent))
    if runner.as_user is not None:
        shutil.chown(root, user=runner.as_user, group=runner.as_user)
    pair = HotStandby(root, free_port(), free_port(), runner, standby_running=False)
    started: list[Path] = []
    try:
        runner.run(
            "initdb", "-D", str(pair.primary_dir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        _append(pair.primary_dir / "postgresql.conf", _settings(pair.primary_port, root))
        _append(
            pair.primary_dir / "pg_hba.conf",
            ("host replication postgres 127.0.0.1/32 trust",),
        )
        pair._start(pair.primary_dir, "primary.log")
        started.append(pair.primary_dir)
        runner.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(pair.primary_port), "-U", "postgres",
            "-D", str(pair.standby_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        # The copy carries the primary's settings; the last line for a name wins.
        _append(pair.standby_dir / "postgresql.conf", (f"port = {pair.standby_port}",))
        pair.start_standby()
        started.append(pair.standby_dir)
        yield pair
    finally:
        for data_dir in reversed(started):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                runner.run("pg_ctl", "-D", str(data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def hot_standby_pair() -> Iterator[HotStandby]:
    """One primary + hot standby for the session (an initdb and a base backup cost seconds)."""
    try:
        with hot_standby() as pair:
            yield pair
    except StandbyUnavailable as error:
        standby_unavailable(str(error))


async def _running(pair: HotStandby) -> HotStandby:
    pair.start_standby()
    await pair.resume_replay()
    return pair


@pytest.fixture
async def standby(hot_standby_pair: HotStandby) -> AsyncIterator[HotStandby]:
    """The session's primary + standby, running and replaying: a test that paused or
    stopped the standby leaves it so only for itself."""
    yield await _running(hot_standby_pair)
    await _running(hot_standby_pair)
