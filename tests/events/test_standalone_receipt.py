"""`check_log.py receipt`: the independent verifier accepts the receipts Docket builds and
refuses a changed one, importing nothing of Docket."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.receipt_sample import Sample, sample

SCRIPT = Path(__file__).parents[2] / "docs" / "examples" / "check_log.py"
ALLOWED = {"__future__", "argparse", "base64", "hashlib", "json", "sys", "pathlib", "typing"}


def test_it_imports_only_the_standard_library_cryptography_and_rfc8785() -> None:
    tree = ast.parse(SCRIPT.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    assert modules <= ALLOWED | {"cryptography", "rfc8785"}, modules


@pytest.fixture(scope="module")
def good() -> Sample:
    return sample(4, witnesses=3, quorum=2, pending=1, other_entries=30)


def run(s: Sample, tmp_path: Path, receipt: Any = None, *extra: str) -> tuple[int, str]:
    (tmp_path / "receipt.json").write_text(json.dumps(s.receipt if receipt is None else receipt))
    (tmp_path / "log.key").write_text(s.log_key + "\n")
    args = ["receipt", "receipt.json", "log.key"]
    for w in s.witnesses:
        args += ["--witness", w.vkey]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, *extra],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},  # no PYTHONPATH: Docket is not importable
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_good_receipt_verifies(good: Sample, tmp_path: Path) -> None:
    code, out = run(good, tmp_path)
    assert code == 0, out
    assert "cosignatures: 3 of 3 witnesses" in out
    assert "receipt of HX-2026-0042: 3 events verified" in out
    assert "pending: 1 events not yet under a checkpoint" in out


def test_a_changed_disclosed_field_fails(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    event = receipt["events"][2]
    event["data"]["valid_until"] = "2029-01-01"
    code, out = run(good, tmp_path, receipt)
    assert code == 1
    assert f"FAILED: event at position {event['position']} (stream version 3): the inclusion" in out


def test_a_changed_proof_hash_fails(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["events"][1]["inclusion_proof"][0] = "ab" * 32
    code, out = run(good, tmp_path, receipt)
    assert code == 1 and "inclusion proof does not reach the signed root" in out


def test_too_few_cosignatures_fail(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    lines = receipt["checkpoint"].rstrip("\n").split("\n")
    receipt["checkpoint"] = "\n".join(lines[:-2]) + "\n"
    code, out = run(good, tmp_path, receipt, "--quorum", "2")
    assert code == 1 and "FAILED: 1 valid witness cosignatures, 2 required" in out


def test_a_witness_named_twice_counts_once(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    lines = receipt["checkpoint"].rstrip("\n").split("\n")
    receipt["checkpoint"] = "\n".join(lines[:-2]) + "\n"
    twice = ["--witness", good.witnesses[0].vkey] * 2
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    (tmp_path / "log.key").write_text(good.log_key)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "receipt", "receipt.json", "log.key", *twice],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1 and "1 valid witness cosignatures, 2 required" in done.stdout


def test_a_changed_checkpoint_fails(good: Sample, tmp_path: Path) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["checkpoint"] = receipt["checkpoint"].replace("\n", "\n1", 1)
    code, out = run(good, tmp_path, receipt)
    assert code == 1 and "FAILED: the checkpoint's signature does not verify" in out


def test_a_malformed_receipt_fails_by_name(good: Sample, tmp_path: Path) -> None:
    code, out = run(good, tmp_path, {"checkpoint": good.receipt["checkpoint"]})
    assert code == 1 and "FAILED: the receipt is malformed" in out
