"""R5: the log cannot be changed in place, and a change made behind the triggers' back, or
a rewritten history, is found.

- UPDATE, DELETE and TRUNCATE on `events` and `checkpoints` are refused by the database's
  triggers (PostgreSQL; SQLite has no TRUNCATE).
- A row changed (or removed) with the triggers disabled: `docket verify` exits 1 and names
  the position.
- A rewritten history (an export changed and re-hashed so that its own chain holds,
  imported into a fresh database): `docket verify` on it passes — nothing inside a log can
  tell — but a consistency proof from it does not match the checkpoint signed before.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PostgresServer, run_async
from tests.reliability.conftest import ROOT, Deployment, _docket

pytestmark = pytest.mark.postgres


def _events_from_roster(dep: Deployment) -> int:
    loaded = dep.docket("roster", "load")
    assert loaded.returncode == 0, loaded.stderr
    rows = run_async(lambda: dep.sql("SELECT max(position) AS head FROM events"))
    head = int(rows[0]["head"])
    assert head >= 10
    return head


REFUSED = [
    "UPDATE events SET event_type = 'Forged' WHERE position = 3",
    "UPDATE events SET stream_version = stream_version",
    "DELETE FROM events WHERE position = 3",
    "DELETE FROM events",
    "TRUNCATE events",
    "TRUNCATE events CASCADE",
]


def test_changes_to_events_are_refused(deployment: Deployment) -> None:
    head = _events_from_roster(deployment)
    for statement in REFUSED:
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            run_async(lambda s=statement: deployment.sql(s))  # type: ignore[misc]
    rows = run_async(lambda: deployment.sql("SELECT count(*) AS n FROM events"))
    assert rows[0]["n"] == head
    verified = deployment.docket("verify")
    assert verified.returncode == 0, verified.stdout


def test_changes_to_checkpoints_are_refused(deployment: Deployment) -> None:
    run_async(
        lambda: deployment.sql(
            "INSERT INTO checkpoints (tree_size, root, note, created_at)"
            " VALUES (1, repeat('0', 64), 'x', now())"
        )
    )
    for statement in (
        "UPDATE checkpoints SET root = repeat('1', 64)",
        "DELETE FROM checkpoints",
        "TRUNCATE checkpoints",
    ):
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            run_async(lambda s=statement: deployment.sql(s))  # type: ignore[misc]
    rows = run_async(lambda: deployment.sql("SELECT root FROM checkpoints"))
    assert [r["root"] for r in rows] == ["0" * 64]


async def _behind_the_triggers(dep: Deployment, statement: str, *args: Any) -> None:
    conn = await asyncpg.connect(dep.dsn, timeout=5)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
            await conn.execute(statement, *args)
            await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("change", "position", "reason"),
    [
        ("data", 5, "hash does not match"),
        ("occurred_at", 7, "hash does not match"),
        ("delete", 6, "missing"),
        ("prev_hash", 4, "prev_hash"),
    ],
)
def test_verify_names_the_changed_position(
    deployment: Deployment, change: str, position: int, reason: str
) -> None:
    _events_from_roster(deployment)
    ok = deployment.docket("verify")
    assert ok.returncode == 0, ok.stdout
    if change == "data":
        rows = run_async(
            lambda: deployment.sql(
                "SELECT data::text AS d FROM events WHERE position = $1", position
            )
        )
        data = json.loads(rows[0]["d"])
        data["term_end"] = "2099-12-31"
        statement, args = (
            "UPDATE events SET data = $1::json WHERE position = $2",
            [json.dumps(data)],
        )
    elif change == "occurred_at":
        statement = (
            "UPDATE events SET occurred_at = occurred_at - interval '1 day' WHERE position = $1"
        )
        args = []
    elif change == "prev_hash":
        statement, args = "UPDATE events SET prev_hash = hash WHERE position = $1", []
    else:
        statement, args = "DELETE FROM events WHERE position = $1", []
    if change == "data":
        run_async(lambda: _behind_the_triggers(deployment, statement, *args, position))
    else:
        run_async(lambda: _behind_the_triggers(deployment, statement, position))
    failed = deployment.docket("verify")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"position {position}" in failed.stdout, failed.stdout
    assert reason in failed.stdout, failed.stdout


def test_sqlite_refuses_changes_and_verify_names_the_position(tmp_path: Path) -> None:
    env_db = tmp_path / "docket.db"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DOCKET_DATABASE_URL": f"sqlite+aiosqlite:///{env_db}",
        "DOCKET_ENVIRONMENT": "test",
        "DOCKET_SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
    }

    def docket(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_docket(), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    for step in (("migrate",), ("roster", "load")):
        done = docket(*step)
        assert done.returncode == 0, done.stderr
    with sqlite3.connect(env_db) as db:
        for statement in ("UPDATE events SET event_type = 'Forged'", "DELETE FROM events"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
    assert docket("verify").returncode == 0
    with sqlite3.connect(env_db) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("UPDATE events SET event_type = 'Forged' WHERE position = 4")
    failed = docket("verify")
    assert failed.returncode == 1 and "position 4" in failed.stdout, failed.stdout


# -- a rewritten history ---------------------------------------------------------------------


def _needs_transfer() -> None:
    """The rewritten-history check needs `docket export/import/checkpoint` and
    `/v1/log/proofs/consistency`; skip with the reason while they are not importable."""
    probe = subprocess.run(
        [*_docket(), "--help"],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    missing = [c for c in ("export", "import", "checkpoint") if c not in probe.stdout]
    if probe.returncode != 0 or missing:
        first = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"needs docket import/export/checkpoint ({missing or first})")


def _rewrite(source: Path, target: Path, position: int) -> None:
    """Change the event at `position` and re-hash the chain from there on."""
    from events.hashing import event_hashes

    chain = bytes(32)
    with source.open() as lines, target.open("w") as out:
        for line in lines:
            event = json.loads(line)
            if event["position"] == position:
                event["data"] = {**event["data"], "term_end": "2099-12-31"}
            fields = {k: v for k, v in event.items() if k not in ("prev_hash", "hash")}
            _, computed = event_hashes(fields, chain)
            event["prev_hash"], event["hash"] = chain.hex(), computed.hex()
            chain = computed
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")


def test_rewritten_history_fails_the_consistency_proof(
    deployment: Deployment, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    _needs_transfer()
    from events.merkle import ProofError, verify_consistency

    dep = deployment
    size = _events_from_roster(dep)
    signed = dep.docket("checkpoint")
    assert signed.returncode == 0, signed.stderr
    lines = signed.stdout.splitlines()
    # the note: origin, tree size, base64 root (anything logged before it is skipped)
    at = next(i for i in range(len(lines) - 2) if lines[i + 1].strip().isdigit())
    assert int(lines[at + 1]) == size, signed.stdout
    signed_root = base64.b64decode(lines[at + 2])
    note = "\n".join(lines[at:]) + "\n"
    (tmp_path / "checkpoint.note").write_text(note)
    exported = dep.docket("export", str(tmp_path / "log.jsonl"))
    assert exported.returncode == 0, exported.stderr
    _rewrite(tmp_path / "log.jsonl", tmp_path / "rewritten.jsonl", position=3)

    # the honest log: it grows by one event, and its proof verifies against the checkpoint
    honest = dep.serve()
    seat = {"member": "ECU", "term_start": "2027-01-01", "term_end": "2028-12-31"}
    r = httpx.post(honest.url + "/v1/committee/members", json=seat, headers=dep.headers())
    assert r.status_code == 201, r.text
    r = httpx.get(
        honest.url + "/v1/log/proofs/consistency",
        params={"from": size, "to": size + 1},
        headers=dep.headers("auditor"),
    )
    assert r.status_code == 200, r.text
    verify_consistency(
        size,
        size + 1,
        signed_root,
        bytes.fromhex(r.json()["root_to"]),
        [bytes.fromhex(p) for p in r.json()["proof"]],
    )
    key = httpx.get(honest.url + "/public/log-key").text.strip()
    dep.stop_all()
    # offline, the rewritten export fails against the checkpoint; the original passes
    for bundle, code in (("log.jsonl", 0), ("rewritten.jsonl", 1)):
        checked = dep.docket(
            "verify-bundle",
            str(tmp_path / bundle),
            "--checkpoint",
            str(tmp_path / "checkpoint.note"),
            "--key",
            key,
        )
        assert checked.returncode == code, (bundle, checked.stdout, checked.stderr)

    forged = f"docket_rel_{uuid.uuid4().hex}"
    run_async(lambda: postgres_server.execute(f"CREATE DATABASE {forged}"))
    other = Deployment(
        postgres_server,
        forged,
        tmp_path,
        {
            **dep.env,
            "DOCKET_DATABASE_URL": postgres_server.url_for(forged),
            "DOCKET_SIGNING_KEY_FILE": str(tmp_path / "forger.key"),
        },
    )
    try:
        for step in (("migrate",), ("import", str(tmp_path / "rewritten.jsonl"))):
            done = other.docket(*step)
            assert done.returncode == 0, done.stderr + done.stdout
        # nothing inside the forged log gives it away
        assert other.docket("verify").returncode == 0
        made = other.docket("token", "create", "--role", "auditor", "--name", "forger")
        other.tokens["auditor"] = made.stdout.strip()
        # the forger's log grows by one event (a member seated through the API)
        made = other.docket("token", "create", "--role", "secretariat", "--name", "forger")
        other.tokens["secretariat"] = made.stdout.strip()
        server = other.serve()
        seat = {"member": "ECU", "term_start": "2027-01-01", "term_end": "2028-12-31"}
        r = httpx.post(
            server.url + "/v1/committee/members", json=seat, headers=other.headers(), timeout=30
        )
        assert r.status_code == 201, r.text
        r = httpx.get(
            server.url + "/v1/log/proofs/consistency",
            params={"from": size, "to": size + 1},
            headers=other.headers("auditor"),
            timeout=30,
        )
        assert r.status_code == 200, r.text
        proof = r.json()
        assert bytes.fromhex(proof["root_from"]) != signed_root
        with pytest.raises(ProofError):
            verify_consistency(
                size,
                size + 1,
                signed_root,
                bytes.fromhex(proof["root_to"]),
                [bytes.fromhex(p) for p in proof["proof"]],
            )
    finally:
        other.stop_all()
        run_async(lambda: postgres_server.execute(f"DROP DATABASE IF EXISTS {forged} WITH (FORCE)"))
