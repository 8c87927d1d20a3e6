"""Offline bundle verification: a chained bundle verifies, every kind of tampering is named."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.bundle import BundleError, verify_bundle
from events.checkpoints import Signer
from events.hashing import event_hashes
from events.merkle import root_from_leaves
from events.model import ZERO_HASH, RecordedEvent

ORIGIN = "docket.test/log"
START = datetime(2026, 2, 5, 15, 4, 5, 123456, tzinfo=UTC)


def chained(count: int) -> tuple[list[bytes], list[bytes]]:
    """`count` events as export lines, and their leaf hashes."""
    lines: list[bytes] = []
    leaves: list[bytes] = []
    prev = bytes.fromhex(ZERO_HASH)
    for position in range(1, count + 1):
        event = RecordedEvent(
            position=position,
            event_id=uuid.UUID(int=position),
            stream_id=f"request-HX-2026-{position % 3:04d}",
            stream_version=position // 3 + 1,
            event_type="HoldPlaced",
            schema_version=1,
            data={"procedure": "initial", "member": "FRA", "note": f"é {position}", "n": 1.5},
            metadata={"actor": {"id": "t1", "name": "desk", "role": "secretariat"}},
            occurred_at=START + timedelta(minutes=position),
            recorded_at=START + timedelta(minutes=position, microseconds=7),
            prev_hash=prev.hex(),
            hash="",
            salt=f"{position:064x}",
        )
        leaf, current = event_hashes(event.hashed_fields(), prev)
        event = dataclasses.replace(event, hash=current.hex())
        lines.append(orjson.dumps(event.wire()) + b"\n")
        leaves.append(leaf)
        prev = current
    return lines, leaves


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


def note_for(signer: Signer, leaves: list[bytes], size: int) -> str:
    return signer.sign_checkpoint(ORIGIN, size, root_from_leaves(leaves[:size]))


class TestVerifyBundle:
    def test_verifies(self, signer: Signer) -> None:
        lines, leaves = chained(37)
        report = verify_bundle(lines, note_for(signer, leaves, 37), signer.verifier_key())
        assert report.events == 37
        assert report.root == root_from_leaves(leaves)
        assert report.head_hash == orjson.loads(lines[-1])["hash"]
        assert report.checkpoint.size == 37
        assert "verified 37 events" in str(report)

    def test_bundle_longer_than_checkpoint(self, signer: Signer) -> None:
        lines, leaves = chained(37)
        report = verify_bundle(lines, note_for(signer, leaves, 20), signer.verifier_key())
        assert report.events == 37 and report.checkpoint.size == 20
        assert report.root == root_from_leaves(leaves)

    def test_a_bundle_in_canonical_form_v1_is_refused_as_such(self, signer: Signer) -> None:
        lines, leaves = chained(3)
        old = []
        for line in lines:
            body = orjson.loads(line)
            del body["salt"]
            old.append(orjson.dumps(body))
        with pytest.raises(BundleError, match="old canonical form v1") as raised:
            verify_bundle(old, note_for(signer, leaves, 3), signer.verifier_key())
        assert raised.value.position == 1

    def test_a_changed_salt_is_named(self, signer: Signer) -> None:
        lines, leaves = chained(4)
        body = orjson.loads(lines[2])
        body["salt"] = "ab" * 32
        lines[2] = orjson.dumps(body)
        with pytest.raises(BundleError, match="hash is not") as raised:
            verify_bundle(lines, note_for(signer, leaves, 4), signer.verifier_key())
        assert raised.value.position == 3

    def test_str_lines_and_blank_lines(self, signer: Signer) -> None:
        lines, leaves = chained(5)
        text = [line.decode() for line in lines] + ["\n"]
        assert verify_bundle(text, note_for(signer, leaves, 5), signer.verifier_key()).events == 5

    def test_empty_bundle_and_empty_checkpoint(self, signer: Signer) -> None:
        report = verify_bundle([], note_for(signer, [], 0), signer.verifier_key())
        assert report.events == 0 and report.head_hash == ZERO_HASH

    @pytest.mark.parametrize("k", [1, 9, 20])
    def test_tampered_data_names_the_position(self, signer: Signer, k: int) -> None:
        lines, leaves = chained(20)
        event = orjson.loads(lines[k - 1])
        event["data"]["member"] = "GBR"
        lines[k - 1] = orjson.dumps(event)
        with pytest.raises(BundleError) as caught:
            verify_bundle(lines, note_for(signer, leaves, 20), signer.verifier_key())
        assert caught.value.position == k
        assert f"position {k}" in str(caught.value)

    def test_reordered_lines(self, signer: Signer) -> None:
        lines, leaves = chained(10)
        lines[5], lines[6] = lines[6], lines[5]
        with pytest.raises(BundleError) as caught:
            verify_bundle(lines, note_for(signer, leaves, 10), signer.verifier_key())
        assert caught.value.position == 6

    def test_dropped_line(self, signer: Signer) -> None:
        lines, leaves = chained(10)
        del lines[3]
        with pytest.raises(BundleError) as caught:
            verify_bundle(lines, note_for(signer, leaves, 10), signer.verifier_key())
        assert caught.value.position == 4

    def test_truncated_before_checkpoint(self, signer: Signer) -> None:
        lines, leaves = chained(10)
        with pytest.raises(BundleError) as caught:
            verify_bundle(lines[:7], note_for(signer, leaves, 10), signer.verifier_key())
        assert caught.value.position == 8

    def test_rewritten_history_fails_at_the_checkpoint_root(self, signer: Signer) -> None:
        _, leaves = chained(10)
        note = note_for(signer, leaves, 10)
        # A value changed and everything after it rechained: only the root can tell.
        forged, _ = chained(10)
        event = orjson.loads(forged[2])
        event["data"]["member"] = "GBR"
        prev = bytes.fromhex(event["prev_hash"])
        rest = _rechain([event] + [orjson.loads(line) for line in forged[3:]], prev)
        with pytest.raises(BundleError, match="Merkle root"):
            verify_bundle(forged[:2] + rest, note, signer.verifier_key())

    def test_wrong_key(self, signer: Signer) -> None:
        lines, leaves = chained(5)
        other = Signer(ORIGIN, Ed25519PrivateKey.generate())
        with pytest.raises(BundleError, match="checkpoint"):
            verify_bundle(lines, note_for(signer, leaves, 5), other.verifier_key())

    def test_broken_prev_hash_and_fields(self, signer: Signer) -> None:
        lines, leaves = chained(6)
        note = note_for(signer, leaves, 6)
        key = signer.verifier_key()
        event = orjson.loads(lines[2])
        event["prev_hash"] = ZERO_HASH
        with pytest.raises(BundleError) as caught:
            verify_bundle(
                [*lines[:2], orjson.dumps(event), *lines[3:]], note, signer.verifier_key()
            )
        assert caught.value.position == 3
        event = orjson.loads(lines[2])
        event["extra"] = 1
        with pytest.raises(BundleError, match="fields") as caught:
            verify_bundle(
                [*lines[:2], orjson.dumps(event), *lines[3:]], note, signer.verifier_key()
            )
        assert caught.value.position == 3
        with pytest.raises(BundleError, match="not JSON") as caught:
            verify_bundle([*lines[:2], b"{oops", *lines[3:]], note, key)
        assert caught.value.position == 3


def _rechain(events: list[dict[str, object]], prev: bytes) -> list[bytes]:
    out = []
    for event in events:
        event.pop("hash")
        event.pop("prev_hash")
        _, current = event_hashes(event, prev)
        event["prev_hash"] = prev.hex()
        event["hash"] = current.hex()
        out.append(orjson.dumps(event))
        prev = current
    return out
