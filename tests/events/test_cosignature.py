"""C2SP tlog-cosignature: cosignature/v1 messages, keys, lines and quorums."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import CheckpointError, Signer, split_note
from events.cosignature import (
    COSIGNATURE_V1,
    CosignatureError,
    Cosigner,
    CosignerKey,
    QuorumError,
    add_signature_lines,
    cosigned_message,
    cosigner_key_id,
    parse_cosigner_key,
    parse_signature_lines,
    valid_cosignatures,
    verify_cosignature_line,
    verify_witnessed,
)

ORIGIN = "docket.example.org/log"
ROOT = hashlib.sha256(b"root").digest()
# The example of C2SP tlog-cosignature ("Below is an example of a checkpoint that contains
# a cosignature"), and the message it gives for the timestamp 1679315147.
SPEC_NOTE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dl"
    "rDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_MESSAGE = (
    "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture
def log() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


def witnesses(count: int) -> list[Cosigner]:
    return [Cosigner(f"witness.example/w{i}", Ed25519PrivateKey.generate()) for i in range(count)]


class TestSpecExample:
    def test_the_example_line_carries_the_example_timestamp(self) -> None:
        text, signatures = split_note(SPEC_NOTE)
        name, kid, blob = signatures[1]
        assert name == "witness.example.com/w1"
        assert len(kid) == 4 and len(blob) == 8 + 64
        (timestamp,) = struct.unpack(">Q", blob[:8])
        assert cosigned_message(text, timestamp).decode() == SPEC_MESSAGE

    def test_message_is_header_time_line_and_the_note_text(self) -> None:
        assert cosigned_message("a\n1\nb\n", 0) == b"cosignature/v1\ntime 0\na\n1\nb\n"
        with pytest.raises(CosignatureError):
            cosigned_message("a\n1\nb\n", 2**63)
        with pytest.raises(CosignatureError):
            cosigned_message("a\n1\nb\n", -1)


class TestKeys:
    def test_key_id_uses_signature_type_4(self) -> None:
        key = Ed25519PrivateKey.generate()
        expected = hashlib.sha256(b"w.example/1\n\x04" + raw(key)).digest()[:4]
        assert cosigner_key_id("w.example/1", raw(key)) == expected
        cosigner = Cosigner("w.example/1", key)
        vkey = cosigner.verifier_key()
        name, hex_id, encoded = vkey.split("+", 2)
        assert (name, hex_id) == ("w.example/1", expected.hex())
        assert base64.b64decode(encoded) == bytes([COSIGNATURE_V1]) + raw(key)
        assert parse_cosigner_key(vkey).key_id == expected

    def test_a_log_key_is_not_a_witness_key(self, log: Signer) -> None:
        with pytest.raises(CosignatureError, match="type 0x01"):
            parse_cosigner_key(log.verifier_key())

    @pytest.mark.parametrize(
        "text",
        ["", "a+b", "w+0000000+AQ==", "w+zzzzzzzz+AQ==", "w 1+00000000+AQ==", "w+00000000+!!"],
    )
    def test_malformed_keys_are_refused(self, text: str) -> None:
        with pytest.raises(CosignatureError):
            parse_cosigner_key(text)

    def test_a_key_id_that_does_not_match_is_refused(self) -> None:
        vkey = Cosigner("w.example/1", Ed25519PrivateKey.generate()).verifier_key()
        name, _, encoded = vkey.split("+", 2)
        with pytest.raises(CosignatureError, match="does not match"):
            parse_cosigner_key(f"{name}+00000000+{encoded}")


class TestCosign:
    def test_round_trip(self, log: Signer) -> None:
        note = log.sign_checkpoint(ORIGIN, 10, ROOT)
        text, _ = split_note(note)
        [witness] = witnesses(1)
        line = witness.cosign(text, 1_700_000_000)
        assert line.startswith(f"\u2014 {witness.name} ") and line.endswith("\n")
        cosignature = verify_cosignature_line(text, line, witness.key)
        assert cosignature.timestamp == 1_700_000_000
        assert cosignature.line == line

    def test_the_signature_covers_timestamp_and_text(self, log: Signer) -> None:
        text, _ = split_note(log.sign_checkpoint(ORIGIN, 10, ROOT))
        [witness] = witnesses(1)
        [(name, kid, blob)] = parse_signature_lines(witness.cosign(text, 5))
        moved = struct.pack(">Q", 6) + blob[8:]
        forged = f"\u2014 {name} {base64.b64encode(kid + moved).decode()}\n"
        with pytest.raises(CosignatureError, match="bad cosignature"):
            verify_cosignature_line(text, forged, witness.key)
        other, _ = split_note(log.sign_checkpoint(ORIGIN, 11, ROOT))
        with pytest.raises(CosignatureError, match="bad cosignature"):
            verify_cosignature_line(other, witness.cosign(text, 5), witness.key)

    def test_a_line_by_another_key_is_not_this_witness_s(self, log: Signer) -> None:
        text, _ = split_note(log.sign_checkpoint(ORIGIN, 10, ROOT))
        first, second = witnesses(2)
        with pytest.raises(CosignatureError, match="not signed by"):
            verify_cosignature_line(text, second.cosign(text, 5), first.key)

    def test_a_plain_ed25519_note_signature_is_not_a_cosignature(self, log: Signer) -> None:
        # The same key signing with type 0x01 has another key id: it is ignored.
        key = Ed25519PrivateKey.generate()
        as_log = Signer("w.example/1", key)
        note = as_log.sign_checkpoint(ORIGIN, 10, ROOT)
        text, signatures = split_note(note)
        valid, invalid = valid_cosignatures(text, signatures, [Cosigner("w.example/1", key).key])
        assert valid == [] and invalid == []


class TestQuorum:
    def test_counts_distinct_known_witnesses(self, log: Signer) -> None:
        note = log.sign_checkpoint(ORIGIN, 10, ROOT)
        text, _ = split_note(note)
        a, b, c = witnesses(3)
        stranger = witnesses(1)[0]
        lines = [a.cosign(text, 1), a.cosign(text, 2), b.cosign(text, 1), stranger.cosign(text, 1)]
        witnessed = add_signature_lines(note, lines)
        keys = [a.key, b.key, c.key]
        checkpoint, valid = verify_witnessed(witnessed, log.verifier_key(), keys, 2)
        assert checkpoint.size == 10
        assert sorted(v.witness for v in valid) == [a.name, b.name]
        with pytest.raises(QuorumError, match="2 valid cosignatures"):
            verify_witnessed(witnessed, log.verifier_key(), keys, 3)
        assert verify_witnessed(note, log.verifier_key(), keys, 0)[1] == []

    def test_a_bad_line_by_a_known_witness_rejects_the_note(self, log: Signer) -> None:
        note = log.sign_checkpoint(ORIGIN, 10, ROOT)
        text, _ = split_note(note)
        a, b = witnesses(2)
        other_text, _ = split_note(log.sign_checkpoint(ORIGIN, 11, ROOT))
        witnessed = add_signature_lines(note, [a.cosign(text, 1), b.cosign(other_text, 1)])
        with pytest.raises(CosignatureError, match=f"bad cosignature by {b.name}"):
            verify_witnessed(witnessed, log.verifier_key(), [a.key, b.key], 1)

    def test_the_log_signature_is_still_required(self, log: Signer) -> None:
        note = log.sign_checkpoint(ORIGIN, 10, ROOT)
        other = Signer(ORIGIN, Ed25519PrivateKey.generate())
        with pytest.raises(CheckpointError):
            verify_witnessed(note, other.verifier_key(), [], 0)

    def test_adding_lines_is_idempotent_and_checks_them(self, log: Signer) -> None:
        note = log.sign_checkpoint(ORIGIN, 10, ROOT)
        text, _ = split_note(note)
        [a] = witnesses(1)
        line = a.cosign(text, 1)
        once = add_signature_lines(note, [line])
        assert add_signature_lines(once, [line]) == once
        assert once == note + line
        with pytest.raises(CosignatureError):
            add_signature_lines(note, ["not a signature"])


def alias_line(line: str, alias: CosignerKey) -> str:
    """`line`'s cosignature copied under another name for the same key: the signed message
    does not name the witness, so it verifies under the alias too."""
    blob = base64.b64decode(line.rstrip("\n").rpartition(" ")[2])[4:]
    return f"\u2014 {alias.name} {base64.b64encode(alias.key_id + blob).decode()}\n"


class TestOneKeyOneVote:
    def test_one_key_under_two_names_counts_once(self, log: Signer) -> None:
        note = log.sign_checkpoint(ORIGIN, 10, ROOT)
        text, _ = split_note(note)
        [a] = witnesses(1)
        alias = CosignerKey.of("alias.example/w", a.key.public_key)
        line = a.cosign(text, 1)
        witnessed = add_signature_lines(note, [line, alias_line(line, alias)])
        # Each name alone verifies: the copied line is a valid cosignature by the alias.
        for key in (a.key, alias):
            assert len(verify_witnessed(witnessed, log.verifier_key(), [key], 1)[1]) == 1
        _, valid = verify_witnessed(witnessed, log.verifier_key(), [a.key, alias], 1)
        assert [v.witness for v in valid] == [a.name]
        with pytest.raises(QuorumError, match="1 valid cosignatures"):
            verify_witnessed(witnessed, log.verifier_key(), [a.key, alias], 2)
        lines = split_note(witnessed)[1]
        assert len(valid_cosignatures(text, lines, [alias, a.key])[0]) == 1
