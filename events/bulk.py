"""Bulk reads of the whole log: pages of events in position order, fast.

`iter_pages` is for code that walks the entire log (verification, the Merkle tree,
projection rebuilds): pages by keyset (`position > last`), consistent for an append-only
log whose positions are assigned in commit order, read through the store's `raw_pages`
(on PostgreSQL a raw asyncpg connection of the store's pool, the next page fetched while
the caller works on this one) and decoded with orjson.

`iter_raw_pages` yields the rows undecoded (`RawRow`) for callers that want to skip
building `RecordedEvent` objects; it is `EventStore.raw_pages`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from events.model import RecordedEvent
from events.store import EventStore, RawRow, row_event

__all__ = ["RawRow", "iter_pages", "iter_raw_pages", "to_event"]


async def iter_raw_pages(
    store: EventStore, after: int = 0, batch: int = 10_000
) -> AsyncGenerator[list[RawRow], None]:
    """Pages of raw rows (see `RawRow`) with positions after `after`, in position order."""
    pages = store.raw_pages(after, batch)
    async with contextlib.aclosing(pages):
        async for page in pages:
            yield page


#: The `RecordedEvent` of a raw row (stored form, no upcasting).
to_event = row_event


async def iter_pages(
    store: EventStore, after: int = 0, batch: int = 10_000
) -> AsyncGenerator[list[RecordedEvent], None]:
    """Pages of up to `batch` events with positions after `after`, in position order.

    Events are in stored form (not upcast), equal to what `store.read_all` returns.
    """
    async with contextlib.aclosing(iter_raw_pages(store, after, batch)) as pages:
        async for page in pages:
            yield [to_event(row) for row in page]
