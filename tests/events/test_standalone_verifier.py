"""docs/examples/check_log.py, the independent verifier of docs/VERIFYING.md: it passes the
published RFC 6962 vectors, and checks what Docket really exports, signs and proves."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import Signer
from events.log_tree import LogTree
from events.store import EventStore
from events.transfer import export_log
from tests.events.test_log_tree import ORIGIN, fill
from tests.events.test_merkle import b64, vector_cases

SCRIPT = Path(__file__).parents[2] / "docs" / "examples" / "check_log.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_log", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_log = _load()


@pytest.mark.parametrize("case", vector_cases("inclusion"))
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    proof = {
        "leaf_index": case["leafIdx"],
        "tree_size": case["treeSize"],
        "leaf_hash": b64(case["leafHash"]).hex(),
        "proof": [b64(p).hex() for p in case["proof"] or []],
    }
    root = b64(case["root"])
    if case["wantErr"]:
        with pytest.raises(check_log.Failed):
            check_log.check_inclusion(proof, case["treeSize"], root)
    else:
        check_log.check_inclusion(proof, case["treeSize"], root)


@pytest.mark.parametrize("case", vector_cases("consistency"))
def test_consistency_vectors(case: dict[str, Any]) -> None:
    proof = {
        "from": case["size1"],
        "to": case["size2"],
        "root_from": b64(case["root1"]).hex(),
        "root_to": b64(case["root2"]).hex(),
        "proof": [b64(p).hex() for p in case["proof"] or []],
    }
    root = b64(case["root1"])
    if case["wantErr"]:
        with pytest.raises(check_log.Failed):
            check_log.check_consistency(proof, case["size1"], root)
    else:
        check_log.check_consistency(proof, case["size1"], root)


async def test_it_checks_what_docket_exports_signs_and_proves(
    store: EventStore, tmp_path: Path
) -> None:
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
    tree = LogTree(store)
    await fill(store, 21)
    await tree.sign_checkpoint(signer, ORIGIN)
    await fill(store, 5, first=21)
    await tree.sign_checkpoint(signer, ORIGIN)
    old, new = await tree.checkpoints()
    leaf, _, path = await tree.inclusion(16, 21)
    old_root, new_root, consistency = await tree.consistency(21, 26)
    out = io.BytesIO()
    await export_log(store, out)
    files = {
        "checkpoint.note": old.note,
        "log.key": signer.verifier_key() + "\n",
        "bundle.jsonl": out.getvalue().decode(),
        "inclusion.json": json.dumps(
            {
                "leaf_index": 16,
                "tree_size": 21,
                "leaf_hash": leaf.hex(),
                "proof": [p.hex() for p in path],
            }
        ),
        "consistency.json": json.dumps(
            {
                "from": 21,
                "to": 26,
                "root_from": old_root.hex(),
                "root_to": new_root.hex(),
                "proof": [p.hex() for p in consistency],
            }
        ),
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    args = ["checkpoint.note", "log.key", "--bundle", "bundle.jsonl"]
    args += ["--inclusion", "inclusion.json", "--consistency", "consistency.json"]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args, *extra],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    checked = run()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "bundle: 26 events" in checked.stdout
    assert "position 17 is in the signed tree of 21" in checked.stdout
    assert "tree of 26 extends the signed tree of 21" in checked.stdout

    lines = files["bundle.jsonl"].splitlines()
    edited = json.loads(lines[8])
    edited["data"]["note"] = "rewritten"
    lines[8] = json.dumps(edited)
    (tmp_path / "bundle.jsonl").write_text("\n".join(lines) + "\n")
    failed = run()
    assert failed.returncode == 1
    assert "FAILED: position 9: the hash does not match" in failed.stdout

    (tmp_path / "log.key").write_text(
        Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier_key() + "\n"
    )
    assert f"FAILED: the checkpoint carries no signature by {ORIGIN}" in run().stdout
    assert new.tree_size == 26
