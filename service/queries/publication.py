"""What the log has published: the checkpoint that public proofs, tiles and receipts are
made against.

`published_checkpoint(runtime)` is the one answer to "which checkpoint may the public
rely on?". Without witnesses it is the newest checkpoint the log signed; with witnesses
configured (DOCKET_WITNESSES) it is the newest one cosigned by a quorum, with those
cosignatures appended to the note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from events.witnessing import WitnessedCheckpoint, published
from service.runtime import Runtime

__all__ = ["Published", "PublishedLog", "published_checkpoint", "published_or_first"]


@dataclass(frozen=True, slots=True)
class Published:
    """A published checkpoint: the signed note (with its cosignatures), the tree size it
    covers and when the log signed it."""

    note: str
    size: int
    signed_at: datetime


async def published_checkpoint(runtime: Runtime, by: datetime | None = None) -> Published | None:
    """The checkpoint the public may rely on, or None while nothing is published; with
    `by`, the one it could rely on at `by` (signed, and cosigned, by then: what public
    statistics are computed from, SPEC §7).

    With witnesses: the newest checkpoint with `witness_quorum` valid cosignatures (the
    kept lines are verified again: the table is trusted for nothing), served with them.
    """
    if not runtime.settings.witnesses:
        latest = await runtime.tree.latest_checkpoint(by=by)
        if latest is None:
            return None
        return Published(note=latest.note, size=latest.tree_size, signed_at=latest.created_at)
    quorum = runtime.settings.effective_witness_quorum
    candidates = await runtime.cosignatures.candidates(quorum, by=by)
    chosen = published(
        [WitnessedCheckpoint(c.checkpoint.note, c.lines) for c in candidates],
        runtime.witness_keys,
        quorum,
        runtime.settings.quorum_met,
    )
    if chosen is None:
        return None
    signed = next(c.checkpoint for c in candidates if c.checkpoint.note == chosen.note)
    return Published(note=chosen.text(), size=signed.tree_size, signed_at=signed.created_at)


async def published_or_first(runtime: Runtime) -> Published | None:
    """`published_checkpoint`, but without witnesses and with nothing signed yet, the
    first checkpoint is signed now: the public log's first reader need not wait for the
    checkpoint writer's cadence. With witnesses nothing is published before they cosign."""
    found = await published_checkpoint(runtime)
    if found is None and not runtime.settings.witnesses:
        await runtime.tree.sign_checkpoint(
            runtime.signer, runtime.settings.log_origin, clock=runtime.clock
        )
        found = await published_checkpoint(runtime)
    return found


class PublishedLog:
    """What `service.publishing.public_log.public_log_router` reads (its `PublicLogSource`), over
    the running service that `runtime()` gives.

    The published checkpoint is remembered for `ttl` seconds: a tile client asks for it
    with every tile, and choosing it reads the cosignatures and verifies them. It only
    ever moves forward, so a remembered one is at worst `ttl` seconds old.
    """

    def __init__(self, runtime: Callable[[], Runtime], ttl: float = 1.0) -> None:
        self._runtime = runtime
        self._ttl = ttl
        self._remembered: tuple[float, Published | None] | None = None

    async def published(self) -> Published | None:
        """The published checkpoint, at most `ttl` seconds old."""
        now = time.monotonic()
        if self._remembered is not None and now - self._remembered[0] < self._ttl:
            return self._remembered[1]
        found = await published_or_first(self._runtime())
        self._remembered = (now, found)
        return found

    async def published_checkpoint(self) -> str | None:
        found = await self.published()
        return None if found is None else found.note

    async def node_hashes(self, level: int, first: int, end: int) -> Sequence[bytes]:
        return await self._runtime().tree.hashes(level, first, end)
