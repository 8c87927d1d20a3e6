"""Leaf hashes (RFC 9162) and the hash chain over the log (SPEC §4)."""

from __future__ import annotations

import hashlib

from events.canonical import canonical
from events.model import JSON


def leaf_hash(canonical_form: bytes) -> bytes:
    """`SHA-256(0x00 || c(e))`."""
    return hashlib.sha256(b"\x00" + canonical_form).digest()


def chain_hash(prev_hash: bytes, leaf: bytes) -> bytes:
    """`hash_n = SHA-256(hash_{n-1} || leaf_n)`."""
    return hashlib.sha256(prev_hash + leaf).digest()


def event_hashes(hashed_fields: JSON, prev_hash: bytes) -> tuple[bytes, bytes]:
    """The leaf hash and chain hash of an event given its `c(e)` fields."""
    leaf = leaf_hash(canonical(hashed_fields))
    return leaf, chain_hash(prev_hash, leaf)
