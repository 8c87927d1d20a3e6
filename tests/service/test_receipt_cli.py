"""`docket receipt verify FILE --log-key VKEY [--witness VKEY ...] [--quorum K]` (SPEC §8):
offline, exit 0 with what is proven in plain words, exit 1 naming what failed."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.receipt_sample import Sample, sample
from service.cli import app

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def good() -> Sample:
    return sample(4, witnesses=3, quorum=2, other_entries=20)


def run(s: Sample, tmp_path: Path, receipt: Any = None, *extra: str) -> tuple[int, str]:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(s.receipt if receipt is None else receipt))
    args = ["receipt", "verify", str(path), "--log-key", s.log_key]
    for w in s.witnesses:
        args += ["--witness", w.vkey]
    result = CliRunner().invoke(app, [*args, *extra])
    return result.exit_code, result.output


def test_a_good_receipt_verifies(good: Sample, tmp_path: Path) -> None:
    code, out = run(good, tmp_path)
    assert code == 0, out
    assert out.startswith("VERIFIED: the approval (letter S/AC.49/2026/OC.42")
    assert "cosigned by 3 of 3 witnesses (3 required)" in out


def test_a_changed_disclosed_field_exits_1_naming_the_event(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    event = receipt["events"][2]
    event["data"]["letter_ref"] = "S/AC.49/2026/OC.43"
    code, out = run(good, tmp_path, receipt)
    assert code == 1
    assert out.startswith("NOT VERIFIED")
    assert f"inclusion proof: event at position {event['position']} (stream version 3)" in out


def test_a_changed_proof_hash_exits_1(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["events"][0]["inclusion_proof"][-1] = "00" * 32
    code, out = run(good, tmp_path, receipt)
    assert code == 1
    assert f"inclusion proof: event at position {receipt['events'][0]['position']}" in out


def test_a_changed_checkpoint_exits_1(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["checkpoint"] = receipt["checkpoint"].replace("\n", "\nx", 1)
    code, out = run(good, tmp_path, receipt)
    assert code == 1 and "checkpoint signature:" in out


def test_cosignatures_below_the_quorum_exit_1(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    lines = receipt["checkpoint"].rstrip("\n").split("\n")
    receipt["checkpoint"] = "\n".join(lines[:-2]) + "\n"
    code, out = run(good, tmp_path, receipt, "--quorum", "2")
    assert (
        code == 1 and "quorum: 1 valid witness cosignatures (witness-1.example), 2 required" in out
    )
    code, out = run(good, tmp_path, receipt, "--quorum", "1")
    assert code == 0, out


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["receipt", "verify", *args])
    return result.exit_code, result.output


def test_keys_may_be_given_as_files(good: Sample, tmp_path: Path) -> None:
    (tmp_path / "log.key").write_text(good.log_key + "\n")
    (tmp_path / "receipt.json").write_text(json.dumps(good.receipt))
    code, out = invoke(
        str(tmp_path / "receipt.json"), "--log-key", str(tmp_path / "log.key"), "--quorum", "0"
    )
    assert code == 0, out
    assert "cosigned" not in out.split("\n")[0]


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]"])
def test_an_unreadable_receipt_exits_1(good: Sample, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "receipt.json"
    path.write_bytes(content)
    code, out = invoke(str(path), "--log-key", good.log_key)
    assert code == 1 and out.startswith("NOT VERIFIED")


def test_a_bad_witness_key_exits_1(good: Sample, tmp_path: Path) -> None:
    (tmp_path / "receipt.json").write_text(json.dumps(good.receipt))
    code, out = invoke(
        str(tmp_path / "receipt.json"), "--log-key", good.log_key, "--witness", "w+00000000+AQ=="
    )
    assert code == 1
    assert "witness key: a witness key given is unusable" in out


def test_as_a_command_with_no_database(good: Sample, tmp_path: Path) -> None:
    (tmp_path / "receipt.json").write_text(json.dumps(good.receipt))
    args = ["receipt", "verify", "receipt.json", "--log-key", good.log_key]
    for w in good.witnesses[:2]:
        args += ["--witness", w.vkey]
    done = subprocess.run(
        [sys.executable, "-c", "from service.cli import app; app()", *args],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DOCKET_DATABASE_URL": "sqlite+aiosqlite:////nonexistent/docket.db",
            "DOCKET_ENVIRONMENT": "test",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cosigned by 2 of 2 witnesses" in done.stdout


def test_a_policy_file_with_groups_in_place_of_the_keys(good: Sample, tmp_path: Path) -> None:
    (tmp_path / "receipt.json").write_text(json.dumps(good.receipt))
    w = [s.vkey for s in good.witnesses]
    policy = tmp_path / "policy"
    for rule, code in (("group g 2 a b c\nquorum g", 0), ("group g all a b c\nquorum g", 0)):
        policy.write_text(f"log {good.log_key}\nwitness a {w[0]}\nwitness b {w[1]}\n"
                          f"witness c {w[2]}\n{rule}\n")  # fmt: skip
        assert invoke(str(tmp_path / "receipt.json"), "--policy", str(policy))[0] == code
    # two cosignatures dropped: a 2-of-3 group is no longer met
    receipt = copy.deepcopy(good.receipt)
    lines = receipt["checkpoint"].rstrip("\n").split("\n")
    receipt["checkpoint"] = "\n".join(lines[:-2]) + "\n"
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    policy.write_text(f"log {good.log_key}\nwitness a {w[0]}\nwitness b {w[1]}\n"
                      f"witness c {w[2]}\ngroup g 2 a b c\nquorum g\n")  # fmt: skip
    code, out = invoke(str(tmp_path / "receipt.json"), "--policy", str(policy))
    assert code == 1 and "the policy's quorum not met" in out
    # one key under two names: refused
    policy.write_text(f"log {good.log_key}\nwitness a {w[0]}\nwitness b {w[0]}\nquorum a\n")
    code, out = invoke(str(tmp_path / "receipt.json"), "--policy", str(policy))
    assert code == 1 and "listed already" in out


def test_ml_dsa_log_line_and_witnesses(tmp_path: Path) -> None:
    """A checkpoint with the log's ML-DSA-44 line, cosigned by Ed25519 and ML-DSA-44
    witnesses: the ML-DSA-44 ones count toward the quorum, each key once."""
    s = sample(4, witnesses=3, quorum=3, other_entries=20, mldsa=True)
    assert s.receipt["checkpoint"].count(f"\u2014 {s.receipt['log']['origin']} ") == 2
    kinds = [base64.b64decode(w.vkey.split("+", 2)[2])[0] for w in s.witnesses]
    assert kinds == [0x04, 0x06, 0x04]
    code, out = run(s, tmp_path)
    assert code == 0, out
    assert "cosigned by 3 of 3 witnesses (3 required)" in out
    only_pq = sample(4, witnesses=2, quorum=1, other_entries=20, mldsa=True)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(only_pq.receipt))
    args = ["receipt", "verify", str(path), "--log-key", only_pq.log_key]
    pq = only_pq.witnesses[1]
    result = CliRunner().invoke(app, [*args, "--witness", pq.vkey, "--quorum", "1"])
    assert result.exit_code == 0, result.output
    twice = CliRunner().invoke(
        app, [*args, "--witness", pq.vkey, "--witness", pq.vkey, "--quorum", "2"]
    )
    assert twice.exit_code == 1 and "1 valid witness cosignatures" in twice.output
