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
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.receipt_sample import Sample, sample
from events.disclosure import CLEAR_FIELDS
from tests.events.test_canonical import json_values

SCRIPT = Path(__file__).parents[2] / "docs" / "examples" / "check_log.py"


def _load() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_log_receipt", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK_LOG = _load()
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
    assert code == 2, out  # one event pending: not yet verified
    assert f"NOT YET VERIFIED: position {good.receipt['pending'][0]['position']}" in out
    assert "statement: the log names all 3 public events" in out
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


def test_its_table_is_docket_s_table() -> None:
    table = _load().CLEAR_FIELDS_V2
    assert {key: frozenset(names) for key, names in table.items()} == dict(CLEAR_FIELDS)


@settings(max_examples=200)
@given(
    event_type=st.sampled_from([*sorted({t for t, _ in CLEAR_FIELDS}), "Unknown"]),
    data=st.dictionaries(
        st.one_of(st.text(max_size=8), st.sampled_from(["procedure", "member", "items"])),
        json_values,
        max_size=6,
    ),
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    salt=st.binary(min_size=32, max_size=32).map(bytes.hex),
)
def test_its_v2_leaf_is_docket_s(
    event_type: str, data: dict[str, Any], metadata: dict[str, Any], salt: str
) -> None:
    from events.disclosure import leaf_hash_v2

    event = {
        "position": 7,
        "event_id": "0b6c8f0e-7d0c-4b8e-9a51-3f0d7c1e2a44",
        "stream_id": "request-HX-2026-0001",
        "stream_version": 2,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2026-12-01T10:00:00.000000Z",
        "recorded_at": "2026-12-01T10:00:01.000000Z",
        "data": data,
        "metadata": metadata,
        "salt": salt,
    }
    try:
        ours = leaf_hash_v2(event)
    except rfc8785.CanonicalizationError:
        return
    assert CHECK_LOG.leaf_hash_v2(event) == ours
