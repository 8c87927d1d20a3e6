"""R9 on the wired service: two databases under one signing key diverge after N events.

Docket A publishes N, then N + 3, cosigned by all three witnesses. Docket B is a copy of
A's database at N that records other events: every witness refuses its checkpoint (409,
then 422 on the proof from A's size) and never cosigns it, so B publishes nothing beyond
N. `docket monitor`, having followed A, is shown B's published checkpoint: it exits 3 with
both signed checkpoints as the evidence, and a monitor holding the quorum never accepts
B's own newer checkpoint.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from events.checkpoints import parse_checkpoint, split_note
from events.published import CosignatureLog
from service.platform.db import create_engine
from service.platform.keys import generate_key_file
from tests.conftest import PostgresServer, run_async
from tests.published.harness import (
    docket,
    docket_settings,
    running_docket,
    wait_for,
    witness_processes,
)

ORIGIN = "docket.example.org/log"
N = 5


@pytest.fixture
def copy_database(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Callable[[], str]]:
    """`copy()`: a new database holding what `database_url` holds now (no one connected)."""
    made: list[str] = []

    def copy() -> str:
        if database_url.startswith("sqlite"):
            target = tmp_path / "fork.db"
            with (
                sqlite3.connect(database_url.split("///", 1)[1]) as source,
                sqlite3.connect(target) as copied,
            ):
                source.backup(copied)
            return f"sqlite+aiosqlite:///{target}"
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = f"docket_fork_{uuid.uuid4().hex}"
        source_name = database_url.rsplit("/", 1)[1]
        run_async(lambda: server.execute(f"CREATE DATABASE {name} TEMPLATE {source_name}"))
        made.append(name)
        return server.url_for(name)

    yield copy
    if made:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        for name in made:
            run_async(partial(server.execute, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def cosigned_sizes(url: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        engine = create_engine(url)
        try:
            return await CosignatureLog(engine).known_sizes()
        finally:
            await engine.dispose()

    return run_async(read)


def test_a_fork_is_refused_by_every_witness_and_caught_by_the_monitor(
    database_url: str, copy_database: Callable[[], str], tmp_path: Path
) -> None:
    key_file = tmp_path / "log.key"
    log_vkey = generate_key_file(key_file, ORIGIN)
    with witness_processes(tmp_path, log_vkey) as witnesses:
        configs = [w.config() for w in witnesses]
        names = {w.name for w in witnesses}
        vkeys = [arg for w in witnesses for arg in ("--witness", w.vkey)]
        settings_a = docket_settings(database_url, key_file, configs, 2)

        def cosigned_by_all(size: int, published: Callable[[], str | None]) -> Callable[[], str]:
            def check() -> str:
                note = published()
                if note is None or parse_checkpoint(note).size != size:
                    return ""
                return note if len(split_note(note)[1]) == 1 + len(names) else ""

            return check

        with running_docket(settings_a) as a:
            a.submit(N, "Branch A")
            wait_for(cosigned_by_all(N, a.published_note), f"A's checkpoint of {N}")
        fork_url = copy_database()  # B: the same log, up to N, under the same key

        with running_docket(settings_a) as a:
            a.submit(3, "Branch A")
            seen_by_a = wait_for(cosigned_by_all(N + 3, a.published_note), "A at N + 3")
            state = tmp_path / "monitor.json"
            followed = docket(
                "monitor", a.url, "--log-key", log_vkey, *vkeys, "--quorum", "2",
                "--state", str(state), check=False,
            )  # fmt: skip
            assert followed.returncode == 0, followed.stderr
            assert f"size {N + 3}" in followed.stdout

            settings_b = docket_settings(fork_url, key_file, configs, 2)
            with running_docket(settings_b) as b:
                b.submit(4, "Branch B")  # B signs N + 4, another tree than A's N + 3
                cosigning = b.app.state.runtime.cosigning

                def refused_by_all() -> bool:
                    statuses = cosigning.status()
                    return len(statuses) == 3 and all(
                        s.last_error and ("422" in s.last_error or "409" in s.last_error)
                        for s in statuses
                    )

                wait_for(refused_by_all, "every witness to refuse branch B")
                for status in cosigning.status():
                    assert status.last_cosigned_size != N + 4
                # B kept no cosignature beyond N, so it publishes nothing new.
                assert cosigned_sizes(fork_url) == dict.fromkeys(names, N)
                published_by_b = b.published_note()
                assert published_by_b is not None
                assert parse_checkpoint(published_by_b).size == N
                assert b.get("/public/log/tile/0/000.p/6").status_code == 404

                # The monitor that followed A is shown B: both checkpoints, exit 3.
                caught = docket(
                    "monitor", b.url, "--log-key", log_vkey, *vkeys, "--quorum", "2",
                    "--state", str(state), check=False,
                )  # fmt: skip
                assert caught.returncode == 3, (caught.stdout, caught.stderr)
                assert "EVIDENCE (rollback)" in caught.stdout
                assert split_note(seen_by_a)[0] in caught.stdout
                assert split_note(published_by_b)[0] in caught.stdout
                # The witnesses stay with branch A: A's cosignatures go on to N + 3.
                assert cosigned_sizes(database_url) == dict.fromkeys(names, N + 3)
