"""C2SP signed checkpoints: round trip, tampering, keys and key files."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    Signer,
    SigningKeyError,
    key_id,
    load_or_create_signing_key,
    parse_checkpoint,
    parse_verifier_key,
    verify_checkpoint,
)

ORIGIN = "docket.example.org/log"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class TestSignedCheckpoint:
    def test_round_trip(self, signer: Signer) -> None:
        note = signer.sign_checkpoint(ORIGIN, 1234, ROOT)
        body, signature = note.split("\n\n")
        assert body + "\n" == f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n"
        assert signature.startswith(f"\u2014 {ORIGIN} ") and signature.endswith("\n")
        assert signature.count("\n") == 1
        assert verify_checkpoint(note, signer.verifier_key()) == Checkpoint(ORIGIN, 1234, ROOT)
        assert parse_checkpoint(note) == Checkpoint(ORIGIN, 1234, ROOT)

    def test_empty_tree(self, signer: Signer) -> None:
        empty = hashlib.sha256(b"").digest()
        note = signer.sign_checkpoint(ORIGIN, 0, empty)
        assert verify_checkpoint(note, signer.verifier_key()).size == 0

    def test_tampering_with_any_byte_of_the_body_fails(self, signer: Signer) -> None:
        note = signer.sign_checkpoint(ORIGIN, 1234, ROOT)
        body_length = note.index("\n\n") + 1
        for i in range(body_length):
            replacement = "x" if note[i] != "x" else "y"
            tampered = note[:i] + replacement + note[i + 1 :]
            with pytest.raises(CheckpointError):
                verify_checkpoint(tampered, signer.verifier_key())

    def test_tampering_with_the_signature_fails(self, signer: Signer) -> None:
        note = signer.sign_checkpoint(ORIGIN, 1234, ROOT)
        body, line = note.split("\n\n")
        prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
        raw = bytearray(base64.b64decode(encoded))
        raw[-1] ^= 1
        tampered = f"{body}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
        with pytest.raises(CheckpointError, match="bad signature"):
            verify_checkpoint(tampered, signer.verifier_key())

    def test_wrong_key_fails(self, signer: Signer) -> None:
        note = signer.sign_checkpoint(ORIGIN, 1234, ROOT)
        other = Signer(ORIGIN, Ed25519PrivateKey.generate())
        with pytest.raises(CheckpointError, match="not signed by"):
            verify_checkpoint(note, other.verifier_key())

    def test_same_key_id_other_key_fails(self, signer: Signer) -> None:
        # A forged verifier key reusing the name and id is refused when parsed.
        name, hex_id, _ = signer.verifier_key().split("+", 2)
        other = Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier_key().split("+", 2)[2]
        with pytest.raises(CheckpointError, match="does not match"):
            parse_verifier_key(f"{name}+{hex_id}+{other}")

    def test_other_signatures_are_ignored(self, signer: Signer) -> None:
        witness = Signer("witness.example", Ed25519PrivateKey.generate())
        note = signer.sign_checkpoint(ORIGIN, 7, ROOT)
        cosigned = note + witness.sign_note(note[: note.index("\n\n") + 1]).split("\n\n")[1]
        assert verify_checkpoint(cosigned, signer.verifier_key()).size == 7
        assert verify_checkpoint(cosigned, witness.verifier_key()).size == 7

    @pytest.mark.parametrize(
        "note",
        [
            "",
            "origin\n7\n",
            "origin\n07\nAAAA\n\n\u2014 origin AAAAAAA=\n",
            "origin\n7\nroot\n",
            "origin\n7\nroot\n\nno dash\n",
            "origin\n-1\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 o AAAAAAAA\n",
            "origin\n7\n" + base64.b64encode(ROOT[:31]).decode() + "\n\n\u2014 o AAAAAAAA\n",
            "origin\n7\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 o AAAAAAAA",
            "origin\n7\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 o AAA\n",
            "origin\r\n7\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 o AAAAAAAA\n",
        ],
    )
    def test_malformed_notes(self, note: str) -> None:
        with pytest.raises(CheckpointError):
            parse_checkpoint(note)

    def test_extension_lines_are_kept(self, signer: Signer) -> None:
        body = Checkpoint(ORIGIN, 3, ROOT, ("ext one",)).body()
        note = signer.sign_note(body)
        assert verify_checkpoint(note, signer.verifier_key()).extensions == ("ext one",)

    def test_signer_refuses_bad_values(self, signer: Signer) -> None:
        with pytest.raises(CheckpointError):
            signer.sign_checkpoint(ORIGIN, 1, ROOT[:16])
        with pytest.raises(CheckpointError):
            signer.sign_checkpoint("", 1, ROOT)
        with pytest.raises(CheckpointError):
            Signer("has space", Ed25519PrivateKey.generate())


class TestVerifierKey:
    def test_key_id_follows_signed_note(self) -> None:
        private = Ed25519PrivateKey.generate()
        public = raw_public(private)
        expected = hashlib.sha256(ORIGIN.encode() + b"\x0a" + b"\x01" + public).digest()[:4]
        assert key_id(ORIGIN, public) == expected
        text = Signer(ORIGIN, private).verifier_key()
        encoded = base64.b64encode(b"\x01" + public).decode()
        assert text == f"{ORIGIN}+{expected.hex()}+{encoded}"
        parsed = parse_verifier_key(text)
        assert parsed.name == ORIGIN and parsed.key_id == expected
        assert parsed.text() == text

    def test_signature_line_starts_with_the_key_id(self, signer: Signer) -> None:
        note = signer.sign_checkpoint(ORIGIN, 1, ROOT)
        encoded = note.rstrip("\n").rsplit(" ", 1)[1]
        raw = base64.b64decode(encoded)
        assert len(raw) == 68
        assert raw[:4].hex() == signer.verifier_key().split("+", 2)[1]

    @pytest.mark.parametrize(
        "text",
        ["", "name+abcd+AAAA", "name+ABCDEF01+AQ==", "a+b+c+d", "na me+00000000+AQ=="],
    )
    def test_malformed_keys(self, text: str) -> None:
        with pytest.raises(CheckpointError):
            parse_verifier_key(text)


class TestKeyFile:
    def test_created_with_0600_and_reloaded(self, tmp_path: Path) -> None:
        path = tmp_path / "keys" / "signing.pem"
        key = load_or_create_signing_key(path, create=True)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        again = load_or_create_signing_key(path, create=False)
        assert raw_public(again) == raw_public(key)
        assert [p.name for p in path.parent.iterdir()] == ["signing.pem"]

    def test_missing_without_create(self, tmp_path: Path) -> None:
        with pytest.raises(SigningKeyError, match="no signing key"):
            load_or_create_signing_key(tmp_path / "absent.pem", create=False)
        assert not (tmp_path / "absent.pem").exists()

    def test_not_a_key(self, tmp_path: Path) -> None:
        path = tmp_path / "junk.pem"
        path.write_text("not a key")
        with pytest.raises(SigningKeyError):
            load_or_create_signing_key(path, create=True)
