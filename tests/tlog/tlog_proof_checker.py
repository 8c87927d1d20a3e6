"""A C2SP tlog-proof@v1 verifier written from the C2SP texts alone (tlog-proof, signed-note,
tlog-checkpoint, tlog-cosignature, RFC 6962 §2.1.1), importing nothing of Docket, so that
the proofs Docket serves are checked by code that did not make them.

`check(entry, proof_text, log_vkey, witness_vkeys, quorum)` returns the proved index, or
raises `Refused` naming why.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Refused(Exception):
    """The proof does not verify."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _vkey(text: str, kind: int) -> tuple[str, bytes, bytes]:
    """(name, key id, public key) of `<name>+<hex id>+<base64(type || key)>`."""
    name, key_id, encoded = text.strip().split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    if raw[0] != kind or len(raw) != 33:
        raise Refused(f"vkey {name}: not of signature type {kind:#04x}")
    if _sha256(name.encode() + b"\n" + raw)[:4].hex() != key_id:
        raise Refused(f"vkey {name}: key id mismatch")
    return name, bytes.fromhex(key_id), raw[1:]


def _note(note: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    """signed-note: the text up to the last blank line, and each `— name base64` line."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise Refused("not a signed note")
    lines = []
    for line in note[cut + 2 : -1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Refused("a malformed signature line")
        name, _, blob = line[2:].rpartition(" ")
        lines.append((name, base64.b64decode(blob)))
    return note[: cut + 1].encode(), lines


def _root(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 6962 §2.1.1 audit path, walked from the leaf up (as RFC 9162 §2.1.3.2)."""
    if index >= size:
        raise Refused("index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Refused("proof too long")
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Refused("proof too short")
    return r


def check(
    entry: bytes, proof_text: str, log_vkey: str, witness_vkeys: list[str], quorum: int
) -> int:
    """Verify `proof_text` for `entry` under the policy (one log, witnesses, quorum)."""
    head, sep, checkpoint = proof_text.partition("\n\n")
    if not sep:
        raise Refused("no empty line before the checkpoint")
    lines = head.split("\n")
    if lines.pop(0) != "c2sp.org/tlog-proof@v1":
        raise Refused("bad header")
    if lines and lines[0].startswith("extra "):
        lines.pop(0)  # unauthenticated: never trusted
    if not lines or not re.fullmatch(r"index (0|[1-9][0-9]*)", lines[0]):
        raise Refused("bad index line")
    index = int(lines.pop(0)[6:])
    path = [base64.b64decode(line, validate=True) for line in lines]
    if any(len(p) != 32 for p in path):
        raise Refused("a proof line is not a SHA-256 hash")
    text, signatures = _note(checkpoint)
    name, key_id, key = _vkey(log_vkey, 0x01)
    origin, size_line, root_line = text.decode().split("\n")[:3]
    if origin != name:
        raise Refused("the checkpoint is of another log")
    good = False
    for signer, blob in signatures:
        if signer == name and blob[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(key).verify(blob[4:], text)
                good = True
            except InvalidSignature:
                raise Refused("bad log signature") from None
    if not good:
        raise Refused("no log signature")
    cosigned = set()
    for witness in witness_vkeys:
        wname, wid, wkey = _vkey(witness, 0x04)
        for signer, blob in signatures:
            if signer != wname or blob[:4] != wid or len(blob) != 4 + 8 + 64:
                continue
            stamp = int.from_bytes(blob[4:12], "big")
            message = b"cosignature/v1\ntime " + str(stamp).encode() + b"\n" + text
            try:
                Ed25519PublicKey.from_public_bytes(wkey).verify(blob[12:], message)
                cosigned.add(wkey)
            except InvalidSignature:
                pass
    if len(cosigned) < quorum:
        raise Refused(f"{len(cosigned)} cosignatures, quorum {quorum}")
    leaf = _sha256(b"\x00" + entry)
    if _root(leaf, index, int(size_line), path) != base64.b64decode(root_line):
        raise Refused("the inclusion proof does not lead to the checkpoint's root")
    return index
