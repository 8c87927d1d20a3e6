"""`docket report` as an auditor runs it, on both backends: the report made from the
database and the one recomputed offline from an export (no database) are the same bytes
in every format; a tampered export or a position past the checkpoint is refused; with
witnesses the report is stamped with the checkpoint they cosigned, not a newer one."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import Signer, load_or_create_signing_key, parse_checkpoint, split_note
from events.cosignature import Cosigner, verify_cosignature_line
from events.published import CosignatureLog
from service.bootstrap import utc_now
from service.platform.db import create_engine
from tests.service.test_cli import NO_DATABASE, docket

AS_OF = ("--as-of", "2025-12-31")
OFFLINE = ("--bundle", "log.jsonl", "--checkpoint", "checkpoint.txt", "--key", "log-key.txt")


def test_server_and_offline_reports_are_byte_identical(database_url: str, tmp_path: Path) -> None:
    demo = docket(database_url, tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    signed = docket(database_url, tmp_path, "checkpoint")
    assert signed.returncode == 0, signed.stderr
    made = docket(
        database_url,
        tmp_path,
        "report",
        *AS_OF,
        "--format",
        "json",
        "--output",
        "server.json",
        "--save-checkpoint",
        "checkpoint.txt",
    )
    assert made.returncode == 0, made.stderr
    checkpoint = parse_checkpoint((tmp_path / "checkpoint.txt").read_text())
    exported = docket(database_url, tmp_path, "export", "log.jsonl")
    assert exported.returncode == 0, exported.stderr
    key = Signer("docket.test/log", load_or_create_signing_key(tmp_path / "signing.key", False))
    (tmp_path / "log-key.txt").write_text(key.verifier_key() + "\n")

    document = json.loads((tmp_path / "server.json").read_bytes())
    assert document["checkpoint"] == {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
    }
    assert document["as_of"] == "2025-12-31T23:59:59.999999Z"
    assert document["requests"] > 0 and document["members"], document

    middle = str(checkpoint.size // 2)
    # every format at one moment, and the JSON also before half the log was written
    for fmt, moment in (
        ("json", AS_OF),
        ("json", (*AS_OF, "--at-position", middle)),
        ("csv", AS_OF),
        ("html", (*AS_OF, "--at-position", middle)),
    ):
        server = docket(database_url, tmp_path, "report", *moment, "--format", fmt)
        assert server.returncode == 0, server.stderr
        offline = docket(NO_DATABASE, tmp_path, "report", *moment, "--format", fmt, *OFFLINE)
        assert offline.returncode == 0, offline.stderr
        assert offline.stdout == server.stdout, (fmt, moment)
        assert offline.stdout  # a report, not nothing
        if fmt == "html":
            assert "docket report --bundle docket-export.jsonl" in offline.stdout
            assert f"--at-position {middle} --format html" in offline.stdout

    past = docket(
        database_url, tmp_path, "report", *AS_OF, "--at-position", str(checkpoint.size + 1)
    )
    assert past.returncode == 1 and "past the checkpoint's size" in past.stderr, past.stderr

    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    edited = json.loads(lines[20])
    edited["occurred_at"] = "2020-01-01T00:00:00.000000Z"
    (tmp_path / "log.jsonl").write_text(
        "\n".join([*lines[:20], json.dumps(edited), *lines[21:]]) + "\n"
    )
    refused = docket(NO_DATABASE, tmp_path, "report", *AS_OF, *OFFLINE)
    assert refused.returncode == 1 and "position 21" in refused.stderr, refused.stderr
    assert refused.stdout == ""


async def _cosign(database_url: str, note: str, witness: Cosigner) -> None:
    """What the service keeps when `witness` cosigns the checkpoint `note`."""
    text = split_note(note)[0]
    line = witness.cosign(text, 1_767_225_600)
    engine = create_engine(database_url)
    try:
        checkpoint = parse_checkpoint(note)
        cosignature = verify_cosignature_line(text, line, witness.key)
        assert await CosignatureLog(engine).add(checkpoint.size, [cosignature]) == 1
    finally:
        await engine.dispose()


def test_a_report_is_stamped_with_the_published_checkpoint(
    database_url: str, tmp_path: Path
) -> None:
    witness = Cosigner("witness.test/w1", Ed25519PrivateKey.generate())
    witnessed = {
        "DOCKET_WITNESSES": json.dumps(
            [{"url": "http://127.0.0.1:9", "key": witness.verifier_key()}]
        ),
        "DOCKET_WITNESS_QUORUM": "1",
    }
    assert docket(database_url, tmp_path, "roster", "load").returncode == 0
    nothing = docket(database_url, tmp_path, "report", *AS_OF, env=witnessed)
    assert nothing.returncode == 1 and "cosigned by a quorum" in nothing.stderr, nothing.stderr
    first = docket(database_url, tmp_path, "checkpoint")
    assert first.returncode == 0, first.stderr
    asyncio.run(_cosign(database_url, first.stdout, witness))
    demo = docket(database_url, tmp_path, "demo")  # more events, and a newer checkpoint
    assert demo.returncode == 0, demo.stderr
    cosigned = parse_checkpoint(first.stdout)

    def stamped(env: dict[str, str] | None) -> tuple[dict[str, object], str]:
        made = docket(
            database_url,
            tmp_path,
            "report",
            *AS_OF,
            "--format",
            "json",
            "--save-checkpoint",
            "checkpoint.txt",
            env=env,
        )
        assert made.returncode == 0, made.stderr
        return json.loads(made.stdout)["checkpoint"], (tmp_path / "checkpoint.txt").read_text()

    # without witnesses the newest signed checkpoint is the published one
    latest, latest_note = stamped(None)
    assert latest["size"] > cosigned.size  # type: ignore[operator]
    assert parse_checkpoint(latest_note).size == latest["size"]
    # with them, the one a quorum cosigned, saved with the cosignature: what anyone who
    # checks the witnesses can hold the report to
    stamp, note = stamped(witnessed)
    assert stamp == {
        "origin": cosigned.origin,
        "size": cosigned.size,
        "root": cosigned.root.hex(),
    }
    assert note.startswith(first.stdout.rstrip("\n")) and f"— {witness.name} " in note
    exported = docket(database_url, tmp_path, "export", "log.jsonl")
    assert exported.returncode == 0, exported.stderr
    key = Signer("docket.test/log", load_or_create_signing_key(tmp_path / "signing.key", False))
    (tmp_path / "log-key.txt").write_text(key.verifier_key() + "\n")
    server = docket(database_url, tmp_path, "report", *AS_OF, "--format", "csv", env=witnessed)
    offline = docket(NO_DATABASE, tmp_path, "report", *AS_OF, "--format", "csv", *OFFLINE)
    assert server.returncode == 0 and offline.returncode == 0, (server.stderr, offline.stderr)
    assert offline.stdout == server.stdout


def test_a_moment_out_of_bounds_is_a_usage_error(tmp_path: Path) -> None:
    """`--as-of` after now or before 2000 (SPEC §5): exit 2 with the reason, no traceback
    and no database touched (now is the machine's: the day after it is always ahead)."""
    ahead = (utc_now() + timedelta(days=2)).date().isoformat()
    for moment, reason in (
        (ahead, "after now"),
        ("5000-01-01T00:00:00Z", "after now"),
        ("1999-12-31", "before 2000-01-01"),
    ):
        refused = docket(NO_DATABASE, tmp_path, "report", "--as-of", moment)
        assert refused.returncode == 2, (moment, refused.stdout, refused.stderr)
        assert reason in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        assert refused.stdout == ""
