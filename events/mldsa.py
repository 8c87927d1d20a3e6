"""ML-DSA-44 signature lines of C2SP `tlog-cosignature` (signature type 0x06), for the log's
second checkpoint signature (C2SP tlog-checkpoint recommends it) and for witnesses.

Written from the C2SP texts:

- key id: `SHA-256(name || 0x0A || 0x06 || 1312-byte public key)[:4]`;
- vkey: `<name>+<hex key id>+<base64(0x06 || public key)>`;
- the line's blob after the key id: `u64 timestamp (big-endian) || 2420-byte signature`;
- the signed message, a `cosigned_message`: the 12 bytes `"subtree/v1\\n\\0"`, the signer
  name (one length byte, 1..255 bytes), the u64 timestamp, the log origin (one length
  byte, 1..255 bytes), u64 start (0 for a checkpoint), u64 end (the tree size), and the
  32-byte root hash. Extension lines are not signed.

Every function takes the error class its caller raises, so that each module keeps to its
own typed error. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey

__all__ = [
    "ML_DSA_44",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "mldsa_key_id",
    "public_key_from",
    "raw_public",
    "sign_blob",
    "subtree_message",
    "verify_blob",
]

#: The signed-note signature type of ML-DSA-44 cosignatures (C2SP tlog-cosignature).
ML_DSA_44 = 0x06
PUBLIC_KEY_SIZE = 1312
SIGNATURE_SIZE = 2420
_LABEL = b"subtree/v1\n\x00"
_TIMESTAMP_LIMIT = 2**63 - 1
_U64 = 2**64 - 1


def mldsa_key_id(name: str, public_key: bytes) -> bytes:
    """`SHA-256(name || 0x0A || 0x06 || public key)[:4]`."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ML_DSA_44]) + public_key).digest()[:4]


def raw_public(public_key: MLDSA44PublicKey) -> bytes:
    """The 1312 bytes of an ML-DSA-44 public key."""
    return public_key.public_bytes_raw()


def public_key_from(raw: bytes, error: type[Exception]) -> MLDSA44PublicKey:
    """The ML-DSA-44 public key of `raw` (1312 bytes); raises `error` otherwise."""
    if len(raw) != PUBLIC_KEY_SIZE:
        raise error(f"an ML-DSA-44 public key is {PUBLIC_KEY_SIZE} bytes, not {len(raw)}")
    try:
        return MLDSA44PublicKey.from_public_bytes(raw)
    except ValueError:
        raise error("not an ML-DSA-44 public key") from None


def _opaque8(data: bytes, what: str, error: type[Exception]) -> bytes:
    if not 1 <= len(data) <= 255:
        raise error(f"the {what} must be 1 to 255 bytes in an ML-DSA-44 cosignature")
    return bytes([len(data)]) + data


def subtree_message(
    name: str,
    timestamp: int,
    origin: str,
    start: int,
    end: int,
    root: bytes,
    error: type[Exception],
) -> bytes:
    """The `cosigned_message` an ML-DSA-44 cosignature by `name` signs."""
    if not 0 <= timestamp <= _TIMESTAMP_LIMIT:
        raise error(f"timestamp {timestamp} is not in [0, 2^63 - 1]")
    if not (0 <= start <= _U64 and 0 <= end <= _U64) or len(root) != 32:
        raise error("an ML-DSA-44 cosignature signs a u64 range and a 32-byte hash")
    if start != 0 and timestamp != 0:
        raise error("a subtree not starting at 0 is cosigned with timestamp 0")
    try:
        name_bytes, origin_bytes = name.encode(), origin.encode()
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text holds one
        raise error("a name or origin is not valid Unicode") from None
    return (
        _LABEL
        + _opaque8(name_bytes, "signer name", error)
        + struct.pack(">Q", timestamp)
        + _opaque8(origin_bytes, "log origin", error)
        + struct.pack(">QQ", start, end)
        + root
    )


def sign_blob(
    private_key: MLDSA44PrivateKey,
    name: str,
    timestamp: int,
    origin: str,
    size: int,
    root: bytes,
    error: type[Exception],
) -> bytes:
    """`u64 timestamp || signature` over the checkpoint (`origin`, `size`, `root`)."""
    message = subtree_message(name, timestamp, origin, 0, size, root, error)
    return struct.pack(">Q", timestamp) + private_key.sign(message)


def verify_blob(
    public_key: MLDSA44PublicKey,
    name: str,
    blob: bytes,
    origin: str,
    size: int,
    root: bytes,
    error: type[Exception],
) -> int:
    """The timestamp of `blob` (timestamp || signature) if it is `name`'s valid ML-DSA-44
    cosignature of the checkpoint; raises `error` otherwise."""
    if len(blob) != 8 + SIGNATURE_SIZE:
        raise error(f"an ML-DSA-44 cosignature by {name} is {8 + SIGNATURE_SIZE} bytes")
    (timestamp,) = struct.unpack(">Q", blob[:8])
    message = subtree_message(name, timestamp, origin, 0, size, root, error)
    try:
        public_key.verify(blob[8:], message)
    except InvalidSignature:
        raise error(f"bad ML-DSA-44 signature by {name} on the checkpoint") from None
    return int(timestamp)
