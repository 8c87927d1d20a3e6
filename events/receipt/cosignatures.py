"""Witness keys and the cosignatures a receipt's checkpoint carries.

Cosignatures are C2SP `tlog-cosignature`: `cosignature/v1` (Ed25519, key type 0x04) or
ML-DSA-44 (key type 0x06, `events.mldsa`). `verify_cosignatures` implements the minimum
a receipt needs; `verify_receipt` takes the check as a parameter (`Cosigners`), so that
the witness module's verifier can replace it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.checkpoints import CheckpointError, parse_checkpoint
from events.errors import ReceiptError
from events.mldsa import ML_DSA_44, mldsa_key_id, public_key_from, verify_blob

__all__ = [
    "COSIGNATURE_V1",
    "Cosigned",
    "Cosigners",
    "WitnessKey",
    "distinct_witnesses",
    "parse_witness_key",
    "verify_cosignatures",
    "witness_key_id",
]

COSIGNATURE_V1 = 0x04
_SIGNATURE_PREFIX = "\u2014 "


@dataclass(frozen=True, slots=True)
class WitnessKey:
    """A witness's verifier key: Ed25519 cosignature/v1 (0x04) or ML-DSA-44 (0x06)."""

    name: str
    key_id: bytes
    public_key: bytes
    text: str
    kind: int = COSIGNATURE_V1


@dataclass(frozen=True, slots=True)
class Cosigned:
    """A valid cosignature: which witness, and when it cosigned (its timestamp)."""

    name: str
    key: str
    timestamp: int


#: `(note, witness vkeys) -> the valid cosignatures, one per witness`.
Cosigners = Callable[[str, Sequence[str]], Sequence[Cosigned]]


def witness_key_id(name: str, public_key: bytes) -> bytes:
    """`SHA-256(name || 0x0A || 0x04 || key)[:4]` (C2SP tlog-cosignature)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key).digest()[:4]


def parse_witness_key(text: str) -> WitnessKey:
    """Read `<name>+<hex key id>+<base64(0x04 || key)>` (or `0x06 || key`, ML-DSA-44),
    checking the key id.

    Raises `ReceiptError` (a `ValueError`)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise ReceiptError(f"a witness key is <name>+<hex key id>+<base64 key>: {text[:200]!r}")
    name, hex_id, encoded = parts
    if any(ch.isspace() for ch in name) or not name.isprintable():
        raise ReceiptError(f"witness key name {name[:80]!r} holds spaces or unprintable characters")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise ReceiptError(f"witness key {name!r}: its key id is not 8 lowercase hex digits")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise ReceiptError(f"witness key {name!r} is not base64") from None
    if raw[:1] == bytes([ML_DSA_44]):
        public_key_from(raw[1:], ReceiptError)
        if mldsa_key_id(name, raw[1:]) != bytes.fromhex(hex_id):
            raise ReceiptError(f"witness key {name!r}: its key id does not match its name and key")
        return WitnessKey(name, bytes.fromhex(hex_id), raw[1:], text.strip(), ML_DSA_44)
    if len(raw) != 33 or raw[0] != COSIGNATURE_V1:
        raise ReceiptError(f"witness key {name!r} is not a cosignature/v1 (0x04) Ed25519 key")
    key_id = bytes.fromhex(hex_id)
    if witness_key_id(name, raw[1:]) != key_id:
        raise ReceiptError(f"witness key {name!r}: its key id does not match its name and key")
    return WitnessKey(name, key_id, raw[1:], text.strip())


def distinct_witnesses(witness_keys: Sequence[str]) -> int:
    """How many different public keys `witness_keys` name: one key is one witness, under
    however many names or spellings. Raises `ReceiptError` if one is unusable."""
    return len({_identity(parse_witness_key(text)) for text in witness_keys})


def _identity(key: WitnessKey) -> bytes:
    return bytes([key.kind]) + key.public_key


def _note_parts(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The signed text, and each signature line's (name, decoded blob)."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise ReceiptError("a signed note is text, a blank line, then signature lines")
    lines = []
    for line in note[cut + 2 : -1].split("\n"):
        if not line.startswith(_SIGNATURE_PREFIX):
            raise ReceiptError(f"not a signature line: {line[:80]!r}")
        name, _, encoded = line[len(_SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            lines.append((name, base64.b64decode(encoded, validate=True)))
        except ValueError:  # binascii.Error, or a non-ASCII character
            continue  # not ours to judge: only lines matching a trusted key count
    return note[: cut + 1], lines


def verify_cosignatures(note: str, witness_keys: Sequence[str]) -> list[Cosigned]:
    """The valid `cosignature/v1` lines of `note` by the given witnesses, one per witness.

    A cosignature signs `cosignature/v1\\ntime <timestamp>\\n` followed by the note's
    text; its blob is key id (4) || timestamp (8, big-endian) || Ed25519 signature (64).
    Lines by other keys are ignored; a witness with several valid lines counts once, and
    so does a public key given under several names (the signed message does not name the
    witness, so a line copied under a second name verifies as well)."""
    text, lines = _note_parts(note)
    found: list[Cosigned] = []
    seen: set[bytes] = set()
    for key_text in witness_keys:
        key = parse_witness_key(key_text)
        if _identity(key) in seen:
            continue  # one key, one vote: whatever name it is given under
        if key.kind == ML_DSA_44:
            cosigned = _mldsa_cosigned(note, key, lines)
            if cosigned is not None:
                found.append(cosigned)
                seen.add(_identity(key))
            continue
        verifier = Ed25519PublicKey.from_public_bytes(key.public_key)
        for name, blob in lines:
            if name != key.name or len(blob) != 76 or blob[:4] != key.key_id:
                continue
            timestamp = int.from_bytes(blob[4:12], "big")
            try:
                message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
            except UnicodeEncodeError:  # a lone surrogate: not a note anyone signed
                raise ReceiptError("the checkpoint note is not valid Unicode") from None
            try:
                verifier.verify(blob[12:], message)
            except InvalidSignature:
                continue
            found.append(Cosigned(key.name, key.text, timestamp))
            seen.add(_identity(key))
            break
    return found


def _mldsa_cosigned(note: str, key: WitnessKey, lines: list[tuple[str, bytes]]) -> Cosigned | None:
    """`key`'s first valid ML-DSA-44 cosignature among `lines`, if any."""
    try:
        checkpoint = parse_checkpoint(note)
    except CheckpointError as error:
        raise ReceiptError(str(error)) from None
    public = public_key_from(key.public_key, ReceiptError)
    for name, blob in lines:
        if name != key.name or blob[:4] != key.key_id:
            continue
        try:
            timestamp = verify_blob(
                public,
                key.name,
                blob[4:],
                checkpoint.origin,
                checkpoint.size,
                checkpoint.root,
                ReceiptError,
            )
        except ReceiptError:
            continue
        return Cosigned(key.name, key.text, timestamp)
    return None
