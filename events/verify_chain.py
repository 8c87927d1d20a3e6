"""Hash-chain verification over the log (SPEC §4), usable on a store or any event stream.

`verify_chain` walks events in position order and stops at the first one that breaks the
log: a gap in positions, a `prev_hash` that does not link to the previous event, or a stored
hash that is not the hash of the stored fields (a row changed after it was written).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass

from events.hashing import event_hashes
from events.model import ZERO_HASH, RecordedEvent
from events.store import EventStore

#: Called with (position, leaf hash) for every event that verified, e.g. to build a tree.
LeafSink = Callable[[int, bytes], None]
#: Called with the number of events checked so far, every `progress_every` events.
ProgressSink = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a chain walk. `bad_position` is None when the chain verified."""

    checked: int
    head_position: int
    head_hash: str
    bad_position: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_position is None


async def verify_chain(
    events: AsyncIterable[RecordedEvent],
    *,
    after: int = 0,
    prev_hash: str = ZERO_HASH,
    on_leaf: LeafSink | None = None,
    progress: ProgressSink | None = None,
    progress_every: int = 5000,
) -> ChainReport:
    """Check `events` (positions `after + 1 …`, linked from `prev_hash`) in order."""
    position, chain = after, bytes.fromhex(prev_hash)
    checked = 0

    def broken(at: int, reason: str) -> ChainReport:
        return ChainReport(checked, position, chain.hex(), at, reason)

    async for event in events:
        expected = position + 1
        if event.position != expected:
            if event.position > expected:
                return broken(
                    expected, f"position {expected} is missing (next is {event.position})"
                )
            return broken(event.position, f"position {event.position} follows {position}")
        if event.prev_hash != chain.hex():
            return broken(expected, "prev_hash does not link to the previous event's hash")
        try:
            leaf, computed = event_hashes(event.hashed_fields(), chain)
        except (TypeError, ValueError) as error:
            return broken(expected, f"stored fields have no canonical form: {error}")
        if event.hash != computed.hex():
            return broken(expected, "hash does not match the event's stored fields")
        if on_leaf is not None:
            on_leaf(expected, leaf)
        position, chain = expected, computed
        checked += 1
        if progress is not None and checked % progress_every == 0:
            progress(checked)
    if progress is not None:
        progress(checked)
    return ChainReport(checked, position, chain.hex())


async def verify_store_chain(
    store: EventStore,
    *,
    batch: int = 5000,
    on_leaf: LeafSink | None = None,
    progress: ProgressSink | None = None,
) -> ChainReport:
    """Verify the whole log of `store`, read in batches of `batch` events."""
    return await verify_chain(
        store.iter_all(batch=batch),
        on_leaf=on_leaf,
        progress=progress,
        progress_every=batch,
    )
