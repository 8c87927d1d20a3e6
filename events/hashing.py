"""Leaf hashes (RFC 9162) and the hash chain over the log (SPEC §4, canonical form v2)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from events.disclosure import event_hashes_v2


def leaf_hash(canonical_form: bytes) -> bytes:
    """`SHA-256(0x00 || c(e))`."""
    return hashlib.sha256(b"\x00" + canonical_form).digest()


def chain_hash(prev_hash: bytes, leaf: bytes) -> bytes:
    """`hash_n = SHA-256(hash_{n-1} || leaf_n)`."""
    return hashlib.sha256(prev_hash + leaf).digest()


def event_hashes(event: Mapping[str, Any], prev_hash: bytes) -> tuple[bytes, bytes]:
    """The leaf hash and chain hash of an event given whole (`RecordedEvent.hashed_fields()`:
    the envelope, `data`, `metadata` and `salt`), in canonical form v2."""
    return event_hashes_v2(event, prev_hash)
