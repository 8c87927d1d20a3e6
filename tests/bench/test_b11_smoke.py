"""Keeps B11 from rotting: its receipt verifies in process (never timed here)."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench.b11 import in_process
from bench.receipt_sample import sample


def test_b11_receipt_verifies(tmp_path: Path) -> None:
    s = sample(10, witnesses=3, quorum=2, other_entries=500)
    path = tmp_path / "receipt.json"
    path.write_bytes(orjson.dumps(s.receipt))
    assert len(s.receipt["events"]) == 10
    assert len(in_process(s, path, rounds=2)) == 2  # in_process asserts each check is ok
