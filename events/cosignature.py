"""Witness cosignatures: C2SP `tlog-cosignature` on checkpoints, Ed25519 `cosignature/v1`
(type 0x04) or ML-DSA-44 (type 0x06, `events.mldsa`).

A cosignature is a signed-note signature line `— <witness name> base64(key id || u64
timestamp || Ed25519 signature)` added to a checkpoint note. The signed message is

    cosignature/v1
    time <timestamp>
    <the checkpoint note text, final newline included>

The key id is `SHA-256(name || 0x0A || 0x04 || public key)[:4]` (signature type 0x04),
and a witness's verifier key is written `<name>+<hex key id>+<base64(0x04 || public key)>`.
The Ed25519 message does not commit to the witness name: one key, one witness.

An ML-DSA-44 cosignature's blob is `u64 timestamp || 2420-byte signature` over the
`subtree/v1` message (`events.mldsa.subtree_message`: witness name, timestamp, origin,
0, tree size, root); its key id and vkey use type 0x06. Either kind counts toward a
quorum, each public key once.

Pure: no I/O, no clock (the timestamp is an argument).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    parse_checkpoint_text,
    signature_lines,
    split_note,
    verify_checkpoint,
)
from events.errors import CosignatureError, QuorumError
from events.mldsa import ML_DSA_44, mldsa_key_id, public_key_from, sign_blob, verify_blob

__all__ = [
    "COSIGNATURE_V1",
    "ML_DSA_44",
    "Cosignature",
    "CosignatureError",
    "Cosigner",
    "CosignerKey",
    "QuorumError",
    "add_signature_lines",
    "cosigned_message",
    "cosigner_key_id",
    "parse_cosigner_key",
    "parse_signature_lines",
    "valid_cosignatures",
    "verify_cosignature_line",
    "verify_witnessed",
]

#: The signed-note signature type of timestamped Ed25519 witness cosignatures.
COSIGNATURE_V1 = 0x04
_HEADER = "cosignature/v1\n"
_SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
_ED25519_SIGNATURE = 64
_TIMESTAMP_LIMIT = 2**63 - 1


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """`SHA-256(name || 0x0A || 0x04 || public key)[:4]` (C2SP tlog-cosignature)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key).digest()[:4]


def cosigned_message(note_text: str, timestamp: int) -> bytes:
    """The bytes a `cosignature/v1` signs: header line, time line, the checkpoint text."""
    _check_timestamp(timestamp)
    if not note_text.endswith("\n"):
        raise CosignatureError("the cosigned checkpoint text must end in a newline")
    try:
        return f"{_HEADER}time {timestamp}\n{note_text}".encode()
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text holds one
        raise CosignatureError("the cosigned checkpoint text is not valid Unicode") from None


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= _TIMESTAMP_LIMIT:
        raise CosignatureError(f"timestamp {timestamp} is not in [0, 2^63 - 1]")


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name) or not name.isprintable():
        raise CosignatureError(f"key name {name!r} must be non-empty, without spaces or '+'")


def _raw_public(public_key: Ed25519PublicKey | MLDSA44PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(text: str, what: str) -> bytes:
    try:
        decoded = base64.b64decode(text, validate=True)
    except ValueError:
        raise CosignatureError(f"{what} is not standard base64") from None
    if base64.b64encode(decoded).decode() != text:
        raise CosignatureError(f"{what} is not canonical base64")
    return decoded


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A witness's name and public key (Ed25519 or ML-DSA-44), as its vkey names them."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey | MLDSA44PublicKey

    @classmethod
    def of(cls, name: str, public_key: Ed25519PublicKey | MLDSA44PublicKey) -> CosignerKey:
        """The key of the witness `name` holding `public_key`."""
        _check_name(name)
        raw = _raw_public(public_key)
        if isinstance(public_key, MLDSA44PublicKey):
            return cls(name, mldsa_key_id(name, raw), public_key)
        return cls(name, cosigner_key_id(name, raw), public_key)

    @property
    def kind(self) -> int:
        """The signature type: 0x04 (Ed25519 cosignature/v1) or 0x06 (ML-DSA-44)."""
        return ML_DSA_44 if isinstance(self.public_key, MLDSA44PublicKey) else COSIGNATURE_V1

    def text(self) -> str:
        """`<name>+<hex key id>+<base64(type || public key)>`."""
        encoded = base64.b64encode(bytes([self.kind]) + _raw_public(self.public_key))
        return f"{self.name}+{self.key_id.hex()}+{encoded.decode()}"

    def raw(self) -> bytes:
        """The type byte and the bytes of the public key (one key, one witness)."""
        return bytes([self.kind]) + _raw_public(self.public_key)


def parse_cosigner_key(text: str) -> CosignerKey:
    """Read a witness vkey `<name>+<hex key id>+<base64(0x04 || key)>` (Ed25519) or
    `...+<base64(0x06 || key)>` (ML-DSA-44), checking the id."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CosignatureError("a verifier key is <name>+<hex key id>+<base64 key>")
    name, hex_id, encoded = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise CosignatureError(f"key id {hex_id!r} is not 8 lowercase hex digits")
    raw = _b64(encoded, "verifier key")
    if raw[:1] == bytes([ML_DSA_44]):
        if mldsa_key_id(name, raw[1:]) != bytes.fromhex(hex_id):
            raise CosignatureError(f"key id {hex_id} does not match the key named {name!r}")
        public = public_key_from(raw[1:], CosignatureError)
        return CosignerKey(name, bytes.fromhex(hex_id), public)
    if len(raw) != 33 or raw[0] != COSIGNATURE_V1:
        raise CosignatureError(
            "a cosignature/v1 key is 0x04 followed by a 32-byte Ed25519 key"
            + (" (this is a log key, type 0x01)" if raw[:1] == b"\x01" else "")
        )
    if cosigner_key_id(name, raw[1:]) != bytes.fromhex(hex_id):
        raise CosignatureError(f"key id {hex_id} does not match the key named {name!r}")
    return CosignerKey(name, bytes.fromhex(hex_id), Ed25519PublicKey.from_public_bytes(raw[1:]))


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: who, when (POSIX seconds), and its signature line."""

    witness: str
    key_id: bytes
    timestamp: int
    line: str


class Cosigner:
    """Cosigns checkpoints as the witness `name` with an Ed25519 or ML-DSA-44 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey | MLDSA44PrivateKey) -> None:
        self.key = CosignerKey.of(name, private_key.public_key())
        self._private_key = private_key

    @property
    def name(self) -> str:
        """The witness's key name."""
        return self.key.name

    def verifier_key(self) -> str:
        """The witness's vkey text (type 0x04 or 0x06)."""
        return self.key.text()

    def cosign(self, note_text: str, timestamp: int) -> str:
        """The signature line (newline included) cosigning the checkpoint `note_text`."""
        private = self._private_key
        if isinstance(private, MLDSA44PrivateKey):
            cp = _checkpoint_of(note_text)
            signed = sign_blob(
                private, self.key.name, timestamp, cp.origin, cp.size, cp.root, CosignatureError
            )
            blob = self.key.key_id + signed
        else:
            signature = private.sign(cosigned_message(note_text, timestamp))
            blob = self.key.key_id + struct.pack(">Q", timestamp) + signature
        return f"{_SIGNATURE_PREFIX}{self.key.name} {base64.b64encode(blob).decode()}\n"


def parse_signature_lines(text: str) -> list[tuple[str, bytes, bytes]]:
    """The (name, key id, signature) of each `— name base64` line of `text`.

    `text` is signature lines only, each ending in a newline (a witness's 200 answer).
    Raises `CosignatureError`.
    """
    if not text.endswith("\n"):
        raise CosignatureError("signature lines must each end in a newline")
    try:  # the signed note's own line syntax, parsed once for notes and cosignatures
        return signature_lines(text[:-1].split("\n"))
    except CheckpointError as error:
        raise CosignatureError(str(error)) from None


def _checkpoint_of(note_text: str) -> Checkpoint:
    try:
        return parse_checkpoint_text(note_text)
    except CheckpointError as error:
        raise CosignatureError(str(error)) from None


def _verify(key: CosignerKey, note_text: str, blob: bytes) -> int:
    """The timestamp of the cosignature `blob` (timestamp || signature) by `key`."""
    public = key.public_key
    if isinstance(public, MLDSA44PublicKey):
        cp = _checkpoint_of(note_text)
        return verify_blob(public, key.name, blob, cp.origin, cp.size, cp.root, CosignatureError)
    if len(blob) != 8 + _ED25519_SIGNATURE:
        raise CosignatureError(f"a cosignature/v1 by {key.name} is 72 bytes, not {len(blob)}")
    (timestamp,) = struct.unpack(">Q", blob[:8])
    _check_timestamp(timestamp)
    try:
        public.verify(blob[8:], cosigned_message(note_text, timestamp))
    except InvalidSignature:
        raise CosignatureError(f"bad cosignature by {key.name} on the checkpoint") from None
    return int(timestamp)


def _line(name: str, key_id: bytes, blob: bytes) -> str:
    return f"{_SIGNATURE_PREFIX}{name} {base64.b64encode(key_id + blob).decode()}\n"


def verify_cosignature_line(note_text: str, line: str, key: CosignerKey) -> Cosignature:
    """The cosignature in `line` if it is `key`'s valid cosignature of `note_text`."""
    parsed = parse_signature_lines(line if line.endswith("\n") else line + "\n")
    if len(parsed) != 1:
        raise CosignatureError(f"{len(parsed)} signature lines given where one is expected")
    [(name, kid, blob)] = parsed
    if name != key.name or kid != key.key_id:
        raise CosignatureError(f"the line is not signed by {key.name}+{key.key_id.hex()}")
    return Cosignature(key.name, kid, _verify(key, note_text, blob), _line(name, kid, blob))


def valid_cosignatures(
    note_text: str,
    signatures: Iterable[tuple[str, bytes, bytes]],
    keys: Sequence[CosignerKey],
) -> tuple[list[Cosignature], list[str]]:
    """The valid cosignatures by `keys` among `signatures`, and a reason per invalid one.

    Lines by unknown keys (name and id not both matching) are ignored, as signed-note asks;
    a public key counts once however many of its lines there are, and under however many
    names it is known: the signed message does not commit to the name, so one key under two
    names is one witness, never two votes toward a quorum.
    """
    known = {(key.name, key.key_id): key for key in keys}
    valid: dict[bytes, Cosignature] = {}  # by the key's type and bytes
    invalid: list[str] = []
    for name, kid, blob in signatures:
        key = known.get((name, kid))
        if key is None:
            continue
        try:
            timestamp = _verify(key, note_text, blob)
        except CosignatureError as error:
            invalid.append(str(error))
            continue
        valid.setdefault(key.raw(), Cosignature(name, kid, timestamp, _line(name, kid, blob)))
    return list(valid.values()), invalid


def verify_witnessed(
    note: str, log_key: str, witness_keys: Sequence[CosignerKey], quorum: int
) -> tuple[Checkpoint, list[Cosignature]]:
    """The checkpoint in `note` if the log signed it and `quorum` witnesses cosigned it.

    A line by a known witness that does not verify rejects the whole note (signed-note:
    clients SHOULD). Raises `CheckpointError` (log signature) or `CosignatureError`.
    """
    checkpoint = verify_checkpoint(note, log_key)
    text, signatures = split_note(note)
    valid, invalid = valid_cosignatures(text, signatures, witness_keys)
    if invalid:
        raise CosignatureError("; ".join(invalid))
    if len(valid) < quorum:
        names = ", ".join(c.witness for c in valid) or "none"
        raise QuorumError(
            f"the checkpoint of size {checkpoint.size} carries {len(valid)} valid "
            f"cosignatures ({names}); the quorum is {quorum}"
        )
    return checkpoint, valid


def add_signature_lines(note: str, lines: Iterable[str]) -> str:
    """`note` with the signature `lines` appended (each a `— ...` line), once each."""
    try:
        split_note(note)
        parse_checkpoint(note)
    except CheckpointError as error:
        raise CosignatureError(str(error)) from None
    present = set(note[note.rfind("\n\n") + 2 :].splitlines())
    added = []
    for line in lines:
        line = line.rstrip("\n")
        parse_signature_lines(line + "\n")
        if line not in present:
            present.add(line)
            added.append(line + "\n")
    return note + "".join(added)
