"""The operator's log commands as an operator runs them, on both backends: `checkpoint`
prints the signed note and nothing else, `export` → `verify-bundle` (no database) →
`import` into a fresh database → `verify`, and an edited export is refused by name."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from events.checkpoints import Signer, load_or_create_signing_key, parse_checkpoint

ROOT = Path(__file__).parents[2]
NO_DATABASE = "sqlite+aiosqlite:////nonexistent/docket.db"  # verify-bundle must not need one
CHECK = ("--checkpoint", "checkpoint.note", "--key", "log.key")


def docket(
    url: str, workdir: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`docket *args` in a process of its own; `env` adds to (or overrides) its settings."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DOCKET_DATABASE_URL": url,
        "DOCKET_ENVIRONMENT": "test",
        "DOCKET_SIGNING_KEY_FILE": str(workdir / "signing.key"),
        "DOCKET_LOG_ORIGIN": "docket.test/log",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", "from service.cli import app; app()", *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_checkpoint_export_verify_bundle_import_verify(
    database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    loaded = docket(database_url, tmp_path, "roster", "load")
    assert loaded.returncode == 0, loaded.stderr
    signed = docket(database_url, tmp_path, "checkpoint")
    assert signed.returncode == 0, signed.stderr
    checkpoint = parse_checkpoint(signed.stdout)  # stdout is the note, nothing else
    assert checkpoint.origin == "docket.test/log" and checkpoint.size >= 10
    (tmp_path / "checkpoint.note").write_text(signed.stdout)

    exported = docket(database_url, tmp_path, "export", "log.jsonl")
    assert exported.returncode == 0, exported.stderr
    assert f"exported {checkpoint.size} events" in exported.stdout

    key = Signer("docket.test/log", load_or_create_signing_key(tmp_path / "signing.key", False))
    (tmp_path / "log.key").write_text(key.verifier_key() + "\n")
    offline = docket(NO_DATABASE, tmp_path, "verify-bundle", "log.jsonl", *CHECK)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert f"verified {checkpoint.size} events" in offline.stdout

    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    edited = json.loads(lines[4])
    edited["data"]["term_end"] = "2099-12-31"
    (tmp_path / "edited.jsonl").write_text("\n".join([*lines[:4], json.dumps(edited), *lines[5:]]))
    done = docket(second_database_url, tmp_path, "import", "edited.jsonl")
    assert done.returncode == 1
    assert "import refused at position 5" in done.stderr, done.stderr
    refused = docket(NO_DATABASE, tmp_path, "verify-bundle", "edited.jsonl", *CHECK)
    assert refused.returncode == 1 and "position 5" in refused.stdout, refused.stdout

    imported = docket(second_database_url, tmp_path, "import", "log.jsonl")
    assert imported.returncode == 0, imported.stderr
    assert f"imported {checkpoint.size} events" in imported.stdout
    verified = docket(second_database_url, tmp_path, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"ok: {checkpoint.size} events" in verified.stdout
    assert checkpoint.root.hex() in verified.stdout


def test_rebuild_then_refreshing_the_statistics_succeeds_on_both_backends(
    database_url: str, tmp_path: Path
) -> None:
    assert docket(database_url, tmp_path, "roster", "load").returncode == 0
    rebuilt = docket(database_url, tmp_path, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith("rebuilt all projections up to position ")
    one = docket(database_url, tmp_path, "rebuild", "request_intervals")
    assert one.returncode == 0, one.stderr
    # SPEC §5's request_history is read from the log: named, it is not an unknown projection
    history = docket(database_url, tmp_path, "rebuild", "request_history")
    assert history.returncode == 0, history.stderr
    assert "read from each request's stream" in history.stdout
    unknown = docket(database_url, tmp_path, "rebuild", "nonsense")
    assert unknown.returncode == 1 and "unknown projection(s): nonsense" in unknown.stderr
