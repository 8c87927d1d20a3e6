"""Signed checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note`s, Ed25519
(and, with an ML-DSA-44 key, a second line in the C2SP `tlog-cosignature` ML-DSA-44 form).

A note is the body, a blank line, and signature lines `— <name> <base64(key id || sig)>`.
The key id is the first 4 bytes of `SHA-256(name || 0x0A || 0x01 || public key)`, and a
verifier key is written `<name>+<hex key id>+<base64(0x01 || public key)>`. The signer's
name is the log origin.

With an ML-DSA-44 key too, each checkpoint carries a second line by the same name, key id
`SHA-256(name || 0x0A || 0x06 || public key)[:4]`, blob `u64 timestamp || signature` over
the `subtree/v1` message of `events.mldsa`; the log writes timestamp 0 (it makes no
statement of time, as its Ed25519 line makes none). Its vkey is
`<name>+<hex key id>+<base64(0x06 || 1312-byte key)>`, and `verify_checkpoint` takes it as
well as an Ed25519 one. It signs checkpoints only: statements are Ed25519-signed notes.

The signing key file is an unencrypted PKCS#8 PEM (`openssl pkey -in FILE` reads it),
created with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey

from events.errors import CheckpointError, SigningKeyError
from events.mldsa import ML_DSA_44, mldsa_key_id, public_key_from, sign_blob, verify_blob
from events.numbers import parse_decimal

__all__ = [
    "STATEMENT_HEADER",
    "Checkpoint",
    "CheckpointError",
    "Signer",
    "SigningKeyError",
    "VerifierKey",
    "key_id",
    "load_mldsa_key",
    "load_or_create_signing_key",
    "load_private_key",
    "parse_checkpoint",
    "parse_checkpoint_text",
    "parse_verifier_key",
    "signed_by",
    "split_note",
    "verify_checkpoint",
    "verify_note_text",
]

ED25519 = 0x01
_SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
_MAX_SIGNATURES = 100  # as Go's golang.org/x/mod/sumdb/note: bounds the work of a parse
_HASH_SIZE = 32
#: The first line of a receipt's statement (SPEC §6.2, `events.statement`): never a log
#: origin, so that no statement the log key signs can be read as a checkpoint.
STATEMENT_HEADER = "docket.receipt-statement/v1"
# Control characters other than newline may not appear in a note; nor lone surrogates,
# which no UTF-8 text holds (and which `str.encode` would refuse with a bare error).
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its RFC 9162 root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The `tlog-checkpoint` text that is signed."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A named Ed25519 (type 0x01) or ML-DSA-44 (type 0x06) public key, as
    `parse_verifier_key` reads it."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey | MLDSA44PublicKey

    @property
    def kind(self) -> int:
        """The signature type: 0x01 (Ed25519) or 0x06 (ML-DSA-44)."""
        return ML_DSA_44 if isinstance(self.public_key, MLDSA44PublicKey) else ED25519

    def text(self) -> str:
        """`<name>+<hex key id>+<base64(type || public key)>`."""
        raw = _raw_public(self.public_key)
        encoded = base64.b64encode(bytes([self.kind]) + raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


def key_id(name: str, public_key: bytes) -> bytes:
    """`SHA-256(name || 0x0A || 0x01 || public key)[:4]` (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def _raw_public(public_key: Ed25519PublicKey | MLDSA44PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise CheckpointError(f"key name {name!r} must be non-empty, without spaces or '+'")


def load_or_create_signing_key(path: str | os.PathLike[str], create: bool) -> Ed25519PrivateKey:
    """The Ed25519 key in the PEM file at `path`; with `create`, generate it if missing."""
    file = Path(path)
    try:
        return _load_key(file)
    except FileNotFoundError:
        if not create:
            raise SigningKeyError(f"no signing key at {file}") from None
    file.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Write a private temporary file, then link it into place: the key appears whole or
    # not at all, and if another process created one meanwhile, both use that one.
    descriptor, temporary = tempfile.mkstemp(dir=file.parent, prefix=".signing-key-")
    try:
        with os.fdopen(descriptor, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, file)
        except FileExistsError:
            return _load_key(file)
    finally:
        os.unlink(temporary)
    return key


def _load_any(file: Path) -> object:
    data = file.read_bytes()
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"{file} is not an unencrypted PEM private key: {error}") from None


def _load_key(file: Path) -> Ed25519PrivateKey:
    key = _load_any(file)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{file} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_mldsa_key(path: str | os.PathLike[str]) -> MLDSA44PrivateKey:
    """The ML-DSA-44 key in the PKCS#8 PEM file at `path` (never created here)."""
    file = Path(path)
    try:
        key = _load_any(file)
    except FileNotFoundError:
        raise SigningKeyError(f"no ML-DSA-44 signing key at {file}") from None
    if not isinstance(key, MLDSA44PrivateKey):
        raise SigningKeyError(f"{file} holds a {type(key).__name__}, not an ML-DSA-44 key")
    return key


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey | MLDSA44PrivateKey:
    """The Ed25519 or ML-DSA-44 key in the PKCS#8 PEM file at `path` (never created)."""
    file = Path(path)
    try:
        key = _load_any(file)
    except FileNotFoundError:
        raise SigningKeyError(f"no key at {file}") from None
    if not isinstance(key, Ed25519PrivateKey | MLDSA44PrivateKey):
        raise SigningKeyError(f"{file} holds a {type(key).__name__}, not Ed25519 or ML-DSA-44")
    return key


class Signer:
    """Signs checkpoints under `name` (the log origin) with an Ed25519 key, and with an
    ML-DSA-44 key too when one is given (a second signature line)."""

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        mldsa_key: MLDSA44PrivateKey | None = None,
    ) -> None:
        _check_name(name)
        if name == STATEMENT_HEADER:
            raise CheckpointError(f"{STATEMENT_HEADER!r} heads a receipt's statement, never a log")
        self.name = name
        self._private_key = private_key
        public = private_key.public_key()
        self._key = VerifierKey(name, key_id(name, _raw_public(public)), public)
        self._mldsa_key = mldsa_key
        self._mldsa: VerifierKey | None = None
        if mldsa_key is not None:
            mpublic = mldsa_key.public_key()
            self._mldsa = VerifierKey(name, mldsa_key_id(name, _raw_public(mpublic)), mpublic)

    def verifier_key(self) -> str:
        """The (Ed25519) verifier key text for `/public/log-key`."""
        return self._key.text()

    def mldsa_verifier_key(self) -> str | None:
        """The ML-DSA-44 verifier key text (type 0x06), or None without that key."""
        return None if self._mldsa is None else self._mldsa.text()

    def verifier_keys(self) -> list[str]:
        """Every verifier key of the log: Ed25519 first, then ML-DSA-44 if configured."""
        mldsa = self.mldsa_verifier_key()
        return [self.verifier_key()] + ([mldsa] if mldsa is not None else [])

    def sign_note(self, text: str) -> str:
        """`text` (ending in a newline) followed by a blank line and this signer's line."""
        _check_text(text)
        signature = self._private_key.sign(text.encode())
        encoded = base64.b64encode(self._key.key_id + signature).decode()
        return f"{text}\n{_SIGNATURE_PREFIX}{self.name} {encoded}\n"

    def sign_checkpoint(self, origin: str, size: int, root: bytes) -> str:
        """The signed note of the checkpoint `origin`, `size`, `root`."""
        checkpoint = Checkpoint(origin, size, root)
        _check_checkpoint(checkpoint)
        note = self.sign_note(checkpoint.body())
        if self._mldsa_key is None or self._mldsa is None:
            return note
        blob = sign_blob(self._mldsa_key, self.name, 0, origin, size, root, CheckpointError)
        encoded = base64.b64encode(self._mldsa.key_id + blob).decode()
        return f"{note}{_SIGNATURE_PREFIX}{self.name} {encoded}\n"


def parse_verifier_key(text: str) -> VerifierKey:
    """Read `<name>+<hex key id>+<base64(type || public key)>`, type 0x01 (Ed25519) or
    0x06 (ML-DSA-44), checking the key id."""
    # The base64 key may itself hold "+": split at the first two only.
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("a verifier key is <name>+<hex key id>+<base64 key>")
    name, hex_id, encoded = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise CheckpointError(f"key id {hex_id!r} is not 8 lowercase hex digits")
    raw = _b64(encoded, "verifier key")
    if raw[:1] == bytes([ML_DSA_44]):
        if mldsa_key_id(name, raw[1:]) != bytes.fromhex(hex_id):
            raise CheckpointError(f"key id {hex_id} does not match the key named {name!r}")
        return VerifierKey(name, bytes.fromhex(hex_id), public_key_from(raw[1:], CheckpointError))
    if len(raw) != 33 or raw[0] != ED25519:
        raise CheckpointError(
            "verifier key is not 0x01 followed by a 32-byte Ed25519 key, "
            "nor 0x06 followed by a 1312-byte ML-DSA-44 key"
        )
    if key_id(name, raw[1:]) != bytes.fromhex(hex_id):
        raise CheckpointError(f"key id {hex_id} does not match the key named {name!r}")
    return VerifierKey(name, bytes.fromhex(hex_id), Ed25519PublicKey.from_public_bytes(raw[1:]))


def _b64(text: str, what: str) -> bytes:
    try:
        decoded = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise CheckpointError(f"{what} is not standard base64") from None
    # Only one spelling of each value: no stray padding bits.
    if base64.b64encode(decoded).decode() != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return decoded


def _check_text(text: str) -> None:
    if not text.endswith("\n") or _CONTROL.search(text):
        raise CheckpointError("note text must end in a newline and hold no control characters")
    if "\n\n" in text:
        raise CheckpointError("note text may not hold a blank line")


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """The text and the (name, key id, signature) of each signature line."""
    text, signatures = _cut_note(note)
    _check_text(text)
    return text, signatures


def _cut_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """As `_split_note`, the text unchecked: what it says does not bear on who signed it."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise CheckpointError("a signed note is text, a blank line, then signature lines")
    return note[: cut + 1], signature_lines(note[cut + 2 : -1].split("\n"))


def signature_lines(lines: list[str]) -> list[tuple[str, bytes, bytes]]:
    """The (name, key id, signature) of each `— name base64` line (C2SP signed-note), at
    most `_MAX_SIGNATURES` of them. Raises `CheckpointError`."""
    if len(lines) > _MAX_SIGNATURES:
        raise CheckpointError(f"more than {_MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise CheckpointError(f"not a signature line: {line[:80]!r}")
        name, _, encoded = line[len(_SIGNATURE_PREFIX) :].rpartition(" ")
        _check_name(name)
        raw = _b64(encoded, f"signature of {name!r}")
        if len(raw) < 5:
            raise CheckpointError(f"signature of {name!r} is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return signatures


def _check_checkpoint(checkpoint: Checkpoint) -> None:
    if not checkpoint.origin or "\n" in checkpoint.origin:
        raise CheckpointError("the origin line must be non-empty")
    if checkpoint.origin == STATEMENT_HEADER:
        raise CheckpointError(f"{STATEMENT_HEADER!r} heads a receipt's statement, never a log")
    if checkpoint.size < 0:
        raise CheckpointError("a tree size is never negative")
    if len(checkpoint.root) != _HASH_SIZE:
        raise CheckpointError(f"the root hash must be {_HASH_SIZE} bytes")


def _parse_body(text: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a size and a root hash")
    origin, size, root, *extensions = lines
    tree_size = parse_decimal(size, "tree size", CheckpointError)
    checkpoint = Checkpoint(origin, tree_size, _b64(root, "root hash"), tuple(extensions))
    _check_checkpoint(checkpoint)
    return checkpoint


def parse_checkpoint_text(text: str) -> Checkpoint:
    """The checkpoint of a note's text (its body, final newline included), unsigned."""
    _check_text(text)
    return _parse_body(text)


def parse_checkpoint(note: str) -> Checkpoint:
    """The checkpoint in a signed note, without verifying any signature."""
    text, _ = _split_note(note)
    return _parse_body(text)


def verify_checkpoint(note: str, verifier_key_text: str) -> Checkpoint:
    """The checkpoint in `note`, if it carries a valid signature by the given key.

    Signatures by other keys are ignored, as C2SP signed-note asks. Raises
    `CheckpointError`.
    """
    key = parse_verifier_key(verifier_key_text)
    text, signatures = _split_note(note)
    _verify_signatures(text, signatures, key, "checkpoint")
    checkpoint = _parse_body(text)
    if checkpoint.extensions and key.kind == ML_DSA_44:
        raise CheckpointError("an ML-DSA-44 signature does not sign extension lines")
    return checkpoint


def verify_note_text(note: str, verifier_key_text: str, what: str = "note") -> str:
    """The text of `note` if it carries a valid signature by the given key; signatures by
    other keys are ignored. Raises `CheckpointError`."""
    key = parse_verifier_key(verifier_key_text)
    if key.kind == ML_DSA_44:
        raise CheckpointError(f"an ML-DSA-44 key signs checkpoints only, not a {what}")
    text, signatures = _split_note(note)
    _verify_signatures(text, signatures, key, what)
    return text


def signed_by(note: str, key: VerifierKey) -> bool:
    """Whether `note` carries a valid signature by `key`, whatever its text says.

    `verify_checkpoint` also checks the text and reads it as a checkpoint; a monitor needs
    the two apart, since a note the log signed is the log's word even when its text is not
    a checkpoint that parses (an ML-DSA-44 line, which signs the origin, size and root,
    needs those three to read, and nothing more: extension lines are let through).
    """
    try:
        text, signatures = _cut_note(note)
        _verify_signatures(text, signatures, key, "note")
    except CheckpointError:
        return False
    return True


def _verify_signatures(
    text: str, signatures: list[tuple[str, bytes, bytes]], key: VerifierKey, what: str
) -> None:
    """Raise `CheckpointError` unless `signatures` hold a line by `key` and every line by
    it verifies over `text`: an Ed25519 signature over the text itself, an ML-DSA-44 one
    over the `subtree/v1` message of the checkpoint the text holds (`events.mldsa`)."""
    ours = [sig for name, kid, sig in signatures if name == key.name and kid == key.key_id]
    if not ours:
        raise CheckpointError(f"the {what} is not signed by {key.name}+{key.key_id.hex()}")
    public = key.public_key
    if isinstance(public, MLDSA44PublicKey):
        checkpoint = parse_checkpoint_text(text)
        for blob in ours:
            verify_blob(
                public,
                key.name,
                blob,
                checkpoint.origin,
                checkpoint.size,
                checkpoint.root,
                CheckpointError,
            )
        return
    try:
        message = text.encode()
    except UnicodeEncodeError:  # a lone surrogate: no text anyone signed
        raise CheckpointError(f"the {what} is not valid Unicode") from None
    for signature in ours:
        try:
            public.verify(signature, message)
        except InvalidSignature:
            raise CheckpointError(f"bad signature by {key.name} on the {what}") from None


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """The text of a signed note and the (name, key id, signature) of each signature line.

    Nothing is verified; the text is checked for shape only. Raises `CheckpointError`.
    """
    return _split_note(note)
