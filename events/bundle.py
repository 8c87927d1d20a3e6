"""Offline verification of an exported log against a signed checkpoint: no database.

A bundle is JSON Lines, one event a line in its wire form (`RecordedEvent.wire()`: the
event whole with its `salt`, plus `prev_hash` and `hash`). Verification streams it once:
positions run 1, 2, 3 … without gaps, every hash is recomputed from canonical form v2 and
chained (a bundle in the old form v1, without salts, is refused as such), and
the Merkle root of the first `size` events is the root the checkpoint signs. Memory stays
O(log n): only the tree's frontier is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from events.checkpoints import Checkpoint, CheckpointError, verify_checkpoint
from events.disclosure import canonical_v2
from events.errors import BundleError
from events.hashing import chain_hash, leaf_hash
from events.merkle import EMPTY_ROOT, MerkleBuilder
from events.model import HASHED_FIELDS, ZERO_HASH

__all__ = ["BundleError", "BundleReport", "verify_bundle"]

_HASHED_FIELDS = frozenset(HASHED_FIELDS)


@dataclass(frozen=True, slots=True)
class BundleReport:
    """What a verified bundle holds and the checkpoint it was checked against."""

    events: int
    head_hash: str
    root: bytes
    checkpoint: Checkpoint

    def __str__(self) -> str:
        return (
            f"verified {self.events} events: positions 1..{self.events} without gaps, "
            f"hash chain intact (head {self.head_hash})\n"
            f"Merkle root at size {self.events}: {self.root.hex()}\n"
            f"checkpoint {self.checkpoint.origin} at size {self.checkpoint.size}: "
            f"signature valid, root {self.checkpoint.root.hex()} matches"
        )


def verify_bundle(
    lines: Iterable[bytes | str], checkpoint_note: str, verifier_key: str
) -> BundleReport:
    """Verify the bundle `lines` against `checkpoint_note` signed by `verifier_key`.

    The bundle may run past the checkpoint; the report gives the root of all of it.
    Raises `BundleError` naming the first bad position.
    """
    try:
        checkpoint = verify_checkpoint(checkpoint_note, verifier_key)
    except CheckpointError as error:
        raise BundleError(f"checkpoint: {error}") from error
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        raise BundleError("checkpoint of size 0 with a root other than the empty tree's")

    builder = MerkleBuilder()
    position = 0
    prev_hex = ZERO_HASH
    prev = bytes(32)
    for line in lines:
        if not line.strip():
            continue  # a trailing newline, or blank lines between events
        position += 1
        body = _parse(line, position)
        if body.get("position") != position or type(body["position"]) is not int:
            raise BundleError(
                f"found position {body.get('position')!r} where {position} was due "
                "(a missing, repeated or reordered event)",
                position,
            )
        stored_prev = body.pop("prev_hash", None)
        stored_hash = body.pop("hash", None)
        if stored_prev != prev_hex:
            raise BundleError(f"prev_hash {stored_prev!r} is not the hash before it", position)
        if "salt" not in body and body.keys() <= _HASHED_FIELDS - {"salt"}:
            raise BundleError(
                "no salt: the bundle is in the old canonical form v1, which this verifier "
                "(canonical form v2, SPEC §4) cannot check; ask for a new export",
                position,
            )
        # `sealed` (the kept digest) is in every line exported since erasure exists; an
        # erased event has a null salt and is hashed from it (SPEC §4 "Erasure")
        if body.keys() != _HASHED_FIELDS and body.keys() != _HASHED_FIELDS - {"sealed"}:
            raise BundleError(f"fields {sorted(body)} are not those of an event whole", position)
        try:
            leaf = leaf_hash(canonical_v2(body))
        except (TypeError, ValueError) as error:
            raise BundleError(f"no canonical form: {error}", position) from None
        current = chain_hash(prev, leaf)
        if current.hex() != stored_hash:
            raise BundleError("hash is not the hash of the event's fields", position)
        builder.append(leaf)
        if position == checkpoint.size and builder.root() != checkpoint.root:
            raise BundleError(
                f"the Merkle root of events 1..{position} is not the root the checkpoint signs"
            )
        prev, prev_hex = current, stored_hash

    if position < checkpoint.size:
        raise BundleError(
            f"the bundle ends at position {position} but the checkpoint covers "
            f"{checkpoint.size} events",
            position + 1,
        )
    return BundleReport(position, prev_hex, builder.root(), checkpoint)


def _parse(line: bytes | str, position: int) -> dict[str, Any]:
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise BundleError(f"not JSON: {error}", position) from None
    if type(body) is not dict:
        raise BundleError("not a JSON object", position)
    return body
