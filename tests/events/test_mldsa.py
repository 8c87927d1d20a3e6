"""ML-DSA-44 (C2SP tlog-cosignature type 0x06): the log's second checkpoint line and
witness cosignatures, checked against a message built here from the C2SP text alone."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

from events.checkpoints import (
    CheckpointError,
    Signer,
    parse_verifier_key,
    signed_by,
    split_note,
    verify_checkpoint,
    verify_note_text,
)
from events.cosignature import (
    CosignatureError,
    Cosigner,
    QuorumError,
    add_signature_lines,
    parse_cosigner_key,
    valid_cosignatures,
    verify_cosignature_line,
    verify_witnessed,
)
from events.errors import ReceiptError
from events.receipt.cosignatures import parse_witness_key, verify_cosignatures

ORIGIN = "docket.example.org/log"
ROOT = hashlib.sha256(b"root").digest()
ED = Ed25519PrivateKey.generate()
ML = MLDSA44PrivateKey.generate()


def spec_message(name: str, timestamp: int, origin: str, size: int, root: bytes) -> bytes:
    """`cosigned_message` as C2SP tlog-cosignature writes it (RFC 8446 conventions)."""
    return (
        b"subtree/v1\n\x00"
        + bytes([len(name.encode())])
        + name.encode()
        + timestamp.to_bytes(8, "big")
        + bytes([len(origin.encode())])
        + origin.encode()
        + (0).to_bytes(8, "big")
        + size.to_bytes(8, "big")
        + root
    )


def spec_key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x06" + public).digest()[:4]


def signer() -> Signer:
    return Signer(ORIGIN, ED, ML)


class TestLogSignature:
    def test_a_second_line_in_the_ml_dsa_44_form(self) -> None:
        note = signer().sign_checkpoint(ORIGIN, 7, ROOT)
        _, lines = split_note(note)
        assert [name for name, _, _ in lines] == [ORIGIN, ORIGIN]
        _, kid, blob = lines[1]
        public = ML.public_key().public_bytes_raw()
        assert kid == spec_key_id(ORIGIN, public)
        assert len(blob) == 8 + 2420
        (timestamp,) = struct.unpack(">Q", blob[:8])
        assert timestamp == 0  # the log makes no statement of time
        ML.public_key().verify(blob[8:], spec_message(ORIGIN, 0, ORIGIN, 7, ROOT))

    def test_the_vkey_is_type_0x06(self) -> None:
        vkey = signer().mldsa_verifier_key()
        assert vkey is not None
        name, hex_id, encoded = vkey.split("+", 2)
        raw = base64.b64decode(encoded)
        assert name == ORIGIN and raw[0] == 0x06 and len(raw) == 1313
        assert bytes.fromhex(hex_id) == spec_key_id(ORIGIN, raw[1:])
        assert parse_verifier_key(vkey).text() == vkey
        assert signer().verifier_keys() == [signer().verifier_key(), vkey]

    def test_either_key_verifies_the_checkpoint(self) -> None:
        s = signer()
        note = s.sign_checkpoint(ORIGIN, 7, ROOT)
        mldsa = s.mldsa_verifier_key()
        assert mldsa is not None
        assert verify_checkpoint(note, s.verifier_key()).size == 7
        assert verify_checkpoint(note, mldsa).root == ROOT

    def test_without_the_key_one_line_as_before(self) -> None:
        note = Signer(ORIGIN, ED).sign_checkpoint(ORIGIN, 7, ROOT)
        assert len(split_note(note)[1]) == 1
        assert Signer(ORIGIN, ED).mldsa_verifier_key() is None

    def test_a_tampered_ml_dsa_line_is_refused(self) -> None:
        s = signer()
        mldsa = s.mldsa_verifier_key()
        assert mldsa is not None
        note = s.sign_checkpoint(ORIGIN, 7, ROOT)
        other = s.sign_checkpoint(ORIGIN, 8, ROOT)
        # the ML-DSA line of size 8 under the body of size 7
        forged = note.rsplit("\n", 2)[0] + "\n" + other.rsplit("\n", 2)[1] + "\n"
        with pytest.raises(CheckpointError, match="bad ML-DSA-44"):
            verify_checkpoint(forged, mldsa)
        verify_checkpoint(forged, s.verifier_key())  # the Ed25519 line is still good

    def test_extension_lines_are_not_taken_on_an_ml_dsa_signature(self) -> None:
        s = signer()
        mldsa = s.mldsa_verifier_key()
        assert mldsa is not None
        note = s.sign_checkpoint(ORIGIN, 7, ROOT)
        body, signatures = note.split("\n\n", 1)
        with pytest.raises(CheckpointError, match="extension"):
            verify_checkpoint(f"{body}\nextra\n\n{signatures}", mldsa)

    def test_signed_by_asks_only_who_signed(self) -> None:
        # What a monitor keeps as the log's word: the extension line an ML-DSA-44 line
        # does not sign, and an Ed25519-signed text that is no checkpoint.
        s = signer()
        mldsa = s.mldsa_verifier_key()
        assert mldsa is not None
        ed_key, ml_key = parse_verifier_key(s.verifier_key()), parse_verifier_key(mldsa)
        note = s.sign_checkpoint(ORIGIN, 7, ROOT)
        body, signatures = note.split("\n\n", 1)
        extended = f"{body}\nextra\n\n{signatures}"
        assert signed_by(note, ed_key) and signed_by(note, ml_key)
        assert signed_by(extended, ml_key) and not signed_by(extended, ed_key)
        not_a_checkpoint = s.sign_note(f"{ORIGIN}\nseven\n")
        assert signed_by(not_a_checkpoint, ed_key) and not signed_by(not_a_checkpoint, ml_key)
        other = parse_verifier_key(Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier_key())
        assert not signed_by(note, other)
        assert not signed_by(body, ed_key)  # no signature lines at all

    def test_an_ml_dsa_key_signs_checkpoints_only(self) -> None:
        s = signer()
        mldsa = s.mldsa_verifier_key()
        assert mldsa is not None
        with pytest.raises(CheckpointError, match="checkpoints only"):
            verify_note_text(s.sign_note("docket.receipt-statement/v1\n"), mldsa)

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda raw: raw[:-1],  # 1311 bytes
            lambda raw: raw + b"\x00",  # 1313 bytes
        ],
    )
    def test_a_wrong_length_key_is_refused(self, mutate: object) -> None:
        raw = b"\x06" + ML.public_key().public_bytes_raw()
        bad = mutate(raw)  # type: ignore[operator]
        vkey = f"{ORIGIN}+{spec_key_id(ORIGIN, bad[1:]).hex()}+{base64.b64encode(bad).decode()}"
        with pytest.raises(CheckpointError):
            parse_verifier_key(vkey)
        with pytest.raises(CosignatureError):
            parse_cosigner_key(vkey)
        with pytest.raises(ReceiptError):
            parse_witness_key(vkey)

    def test_a_wrong_key_id_is_refused(self) -> None:
        vkey = signer().mldsa_verifier_key()
        assert vkey is not None
        name, hex_id, encoded = vkey.split("+", 2)
        wrong = f"{name}+{'0' * 8 if hex_id != '0' * 8 else '1' * 8}+{encoded}"
        with pytest.raises(CheckpointError, match="does not match"):
            parse_verifier_key(wrong)


WITNESS = "witness.example.org/pq"
NOW = 1_767_225_600


class TestWitness:
    def note(self) -> str:
        return Signer(ORIGIN, ED).sign_checkpoint(ORIGIN, 7, ROOT)

    def test_an_ml_dsa_cosignature_as_c2sp_writes_it(self) -> None:
        cosigner = Cosigner(WITNESS, ML)
        text = split_note(self.note())[0]
        line = cosigner.cosign(text, NOW)
        name, encoded = line[2:].rstrip("\n").split(" ")
        blob = base64.b64decode(encoded)
        public = ML.public_key().public_bytes_raw()
        assert name == WITNESS and blob[:4] == spec_key_id(WITNESS, public)
        assert int.from_bytes(blob[4:12], "big") == NOW
        ML.public_key().verify(blob[12:], spec_message(WITNESS, NOW, ORIGIN, 7, ROOT))
        assert base64.b64decode(cosigner.verifier_key().split("+", 2)[2]) == b"\x06" + public
        assert verify_cosignature_line(text, line, cosigner.key).timestamp == NOW

    def test_the_name_is_signed(self) -> None:
        # Unlike cosignature/v1, the signature copied under another name does not verify.
        text = split_note(self.note())[0]
        line = Cosigner(WITNESS, ML).cosign(text, NOW)
        blob = base64.b64decode(line.rstrip("\n").split(" ")[2])
        other = Cosigner("other.example/w", ML).key
        copied = f"\u2014 other.example/w {base64.b64encode(other.key_id + blob[4:]).decode()}\n"
        with pytest.raises(CosignatureError, match="bad ML-DSA-44"):
            verify_cosignature_line(text, copied, other)

    def test_mixed_quorum_each_key_once(self) -> None:
        log = signer()
        note = log.sign_checkpoint(ORIGIN, 7, ROOT)
        text = split_note(note)[0]
        ed_witness = Cosigner("w.example/ed", Ed25519PrivateKey.generate())
        pq_witness = Cosigner("w.example/pq", MLDSA44PrivateKey.generate())
        lines = [ed_witness.cosign(text, NOW), pq_witness.cosign(text, NOW + 1)]
        lines.append(pq_witness.cosign(text, NOW + 2))  # a second line of the same key
        cosigned = add_signature_lines(note, lines)
        keys = [ed_witness.key, pq_witness.key]
        for log_key in log.verifier_keys():
            _, valid = verify_witnessed(cosigned, log_key, keys, 2)
            assert sorted(c.witness for c in valid) == ["w.example/ed", "w.example/pq"]
            with pytest.raises(QuorumError):
                verify_witnessed(cosigned, log_key, keys, 3)
        # the log's own ML-DSA line is not a witness's
        valid, invalid = valid_cosignatures(text, split_note(cosigned)[1], keys)
        assert len(valid) == 2 and not invalid

    def test_a_bad_ml_dsa_cosignature_rejects_the_note(self) -> None:
        note = self.note()
        text = split_note(note)[0]
        pq = Cosigner(WITNESS, MLDSA44PrivateKey.generate())
        other_text = split_note(Signer(ORIGIN, ED).sign_checkpoint(ORIGIN, 8, ROOT))[0]
        cosigned = add_signature_lines(note, [pq.cosign(other_text, NOW)])
        with pytest.raises(CosignatureError, match="bad ML-DSA-44"):
            verify_witnessed(cosigned, Signer(ORIGIN, ED).verifier_key(), [pq.key], 1)
        assert valid_cosignatures(text, split_note(cosigned)[1], [pq.key])[0] == []

    def test_the_receipt_verifier_counts_ml_dsa_witnesses(self) -> None:
        note = self.note()
        text = split_note(note)[0]
        ed_witness = Cosigner("w.example/ed", Ed25519PrivateKey.generate())
        pq_witness = Cosigner("w.example/pq", MLDSA44PrivateKey.generate())
        cosigned = add_signature_lines(
            note, [ed_witness.cosign(text, NOW), pq_witness.cosign(text, NOW + 5)]
        )
        keys = [ed_witness.verifier_key(), pq_witness.verifier_key(), pq_witness.verifier_key()]
        found = verify_cosignatures(cosigned, keys)
        assert sorted((c.name, c.timestamp) for c in found) == [
            ("w.example/ed", NOW),
            ("w.example/pq", NOW + 5),
        ]
        assert parse_witness_key(pq_witness.verifier_key()).kind == 0x06
        # a cosignature of another checkpoint does not count
        other = split_note(Signer(ORIGIN, ED).sign_checkpoint(ORIGIN, 8, ROOT))[0]
        wrong = add_signature_lines(note, [pq_witness.cosign(other, NOW)])
        assert verify_cosignatures(wrong, keys) == []
