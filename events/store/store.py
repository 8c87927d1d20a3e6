"""`EventStore`: the append-only log (SPEC §4), the only way in to it.

Appends go through the group-commit writer (`events.store.writer`); everything else is a
call on the backend (`events.store.contract.Backend`), upcast here where asked. The store
knows no dialect: `EventStore.open(url)` picks the backend for the URL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.errors import StoreClosed
from events.model import ExpectedVersion, NewEvent, RecordedEvent, StreamAppend
from events.read_engine import ReadConnection
from events.request_ids import NumberedRequest
from events.store import core
from events.store.backends import open_backend
from events.store.contract import Backend, PartitionedRebuilds
from events.store.rows import ChainRow, ImportRow, RawRow
from events.store.writer import GroupCommit, StoreStats, check_append
from events.types import ERASURE_EVENT
from events.upcasting import UpcasterRegistry
from events.upcasting import registry as default_upcasters


class EventStore:
    """The log: append with expected versions (group commit), read by stream or position."""

    def __init__(
        self,
        backend: Backend,
        *,
        upcasters: UpcasterRegistry = default_upcasters,
        max_batch_events: int = 5000,
        owns_backend: bool = True,
    ) -> None:
        self._backend = backend
        self._upcasters = upcasters
        self._owns_backend = owns_backend
        self._closed = False
        self.stats = StoreStats()
        self._writer = GroupCommit(backend, max_batch_events, self.stats)

    @classmethod
    async def open(cls, url: str, **options: Any) -> Self:
        """A store on the database at `url` (`sqlite+aiosqlite:///…`, `postgresql+asyncpg://…`)."""
        return cls(open_backend(url), **options)

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def engine(self) -> AsyncEngine:
        """The engine of the store's database (shared with callers that need raw access)."""
        return self._backend.engine

    @property
    def upcasters(self) -> UpcasterRegistry:
        """The upcasters applied by reads with `upcast=True` (raw pages are never upcast)."""
        return self._upcasters

    async def close(self) -> None:
        """Write what is queued, stop the writer, and close the backend if it is ours."""
        if self._closed:
            return
        self._closed = True
        await self._writer.stop()
        if self._owns_backend:
            await self._backend.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- writing ---------------------------------------------------------------------------

    async def append(self, *appends: StreamAppend) -> list[RecordedEvent]:
        """Append atomically across `appends`; return the recorded events in position order.

        Raises `ConcurrencyConflict` if any stream is not at its expected version (nothing is
        written). If every event already exists by `event_id`, returns the recorded events
        without writing; if only some do, raises `DuplicateEvents`.
        """
        if self._closed:
            raise StoreClosed("the event store is closed")
        event_ids: list[uuid.UUID] = []
        for stream_append in appends:
            check_append(stream_append)
            event_ids.extend(new.event_id for new in stream_append.events)
        if len(set(event_ids)) != len(event_ids):
            raise ValueError("an append names the same event_id twice")
        return await self._writer.submit(tuple(appends), event_ids)

    async def append_numbered(self, numbered: NumberedRequest) -> list[RecordedEvent]:
        """Append a new request stream under the next server-assigned id of
        `numbered.year` (`events.request_ids`): the id is taken in the append's own
        transaction, so it is unique and gap-free per year across processes. The events
        are `numbered.build(request_id)`; if they already exist by `event_id` (a retry),
        they are returned and no number is taken. `build`'s error is the call's."""
        if self._closed:
            raise StoreClosed("the event store is closed")
        event_ids = list(numbered.event_ids)
        if not event_ids or len(set(event_ids)) != len(event_ids):
            raise ValueError("a numbered request needs distinct event ids")
        return await self._writer.submit((), event_ids, numbered)

    async def erase(self, event: NewEvent, expected: ExpectedVersion = "any") -> RecordedEvent:
        """Append `event` (an `ErasureRecorded`, its `data["positions"]` the events to
        erase) and, in the same transaction, replace those events' sealed values by the
        marker `{"erased": true, "by": <its position>}` and drop their salts (SPEC §4
        "Erasure"). Raises `ErasureRefused` (nothing written) if a position is not in the
        log or already erased. A retry with the same `event_id` returns the event."""
        if self._closed:
            raise StoreClosed("the event store is closed")
        positions = event.data.get("positions")
        if (
            event.event_type != ERASURE_EVENT
            or not isinstance(positions, list)
            or not positions
            or any(type(p) is not int or p < 1 for p in positions)
            or len(set(positions)) != len(positions)
        ):
            raise ValueError("an erasure is one ErasureRecorded naming distinct positions ≥ 1")
        stream_append = StreamAppend(event.stream_id, expected, [event])
        check_append(stream_append)
        recorded = await self._writer.submit(
            (stream_append,), [event.event_id], erasing=tuple(sorted(positions))
        )
        return recorded[0]

    async def copy_in(self, chunks: Iterable[list[ImportRow]]) -> int:
        """Insert checked raw rows into an empty log in one transaction (an import; see
        `Backend.copy_in`); return how many. Times as `raw_times_as_text` says."""
        return await self._backend.copy_in(chunks)

    @property
    def raw_times_as_text(self) -> bool:
        """Whether raw rows (read, or copied in) carry times as canonical UTC text."""
        return self._backend.raw_times_as_text

    # -- reading ---------------------------------------------------------------------------

    def _upcast(self, found: list[RecordedEvent], upcast: bool) -> list[RecordedEvent]:
        if upcast:
            return [self._upcasters.upcast(event) for event in found]
        return found

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_position: int | None = None,
        occurred_until: datetime | None = None,
        upcast: bool = True,
    ) -> list[RecordedEvent]:
        """A stream's events in version order, from `from_version`, up to a position/time."""
        if occurred_until is not None and occurred_until.tzinfo is None:
            raise ValueError("occurred_until must be timezone-aware")
        found = await self._backend.read_stream(
            stream_id, from_version, to_position, occurred_until
        )
        return self._upcast(found, upcast)

    async def read_streams(
        self, from_versions: Mapping[str, int], *, upcast: bool = True
    ) -> dict[str, list[RecordedEvent]]:
        """Several streams' events from a version each (`{stream_id: from_version}`), in
        version order: one statement on PostgreSQL. Every stream asked for is a key."""
        found = await self._backend.read_streams(from_versions)
        return {stream_id: self._upcast(events, upcast) for stream_id, events in found.items()}

    async def stream_version(self, stream_id: str) -> int:
        """The stream's last version; 0 when it does not exist."""
        return await self._backend.stream_version(stream_id)

    async def read_all(
        self, after: int = 0, limit: int = 1000, *, upcast: bool = False
    ) -> list[RecordedEvent]:
        """Up to `limit` events with positions after `after`, in position order (stored form)."""
        return self._upcast(await self._backend.read_page(after, limit), upcast)

    async def iter_all(
        self, after: int = 0, batch: int = 5000, *, upcast: bool = False
    ) -> AsyncIterator[RecordedEvent]:
        """Every event after `after` in position order, read `batch` at a time."""
        while True:
            page = await self.read_all(after, batch, upcast=upcast)
            for event in page:
                yield event
            if len(page) < batch:
                return
            after = page[-1].position

    def raw_pages(self, after: int = 0, batch: int = 10_000) -> AsyncGenerator[list[RawRow], None]:
        """Pages of up to `batch` raw rows (`events.store.rows.RawRow`, stored form, not
        upcast) after `after`, in position order; on PostgreSQL the next page is read while
        the caller works on this one. Close the iterator (`aclose`) when stopping early."""
        if batch < 1:
            raise ValueError("batch must be at least 1")
        return self._backend.raw_pages(after, batch)

    @property
    def partitioned_rebuilds(self) -> PartitionedRebuilds | None:
        """What a rebuild in worker processes needs of the backend (its partitions'
        pages, staged copies); None where it is not offered (SQLite)."""
        backend = self._backend
        return backend if isinstance(backend, PartitionedRebuilds) else None

    async def head(self) -> tuple[int, str]:
        """The last position and its chain hash; `(0, "00" * 32)` for an empty log."""
        return await self._backend.head()

    @staticmethod
    async def applied_position(conn: ReadConnection) -> int:
        """The last position of the log as the read side of `conn` holds it (a replica
        lags the primary): what its reads reflect at most. 0 for an empty log."""
        return await core.applied_position(conn)

    async def event_at(self, position: int) -> RecordedEvent | None:
        """The event at `position` (stored form), if the log reaches it."""
        found = await self._backend.read_page(position - 1, 1) if position > 0 else []
        return found[0] if found and found[0].position == position else None

    async def get_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        """The recorded event with `event_id`, if any (stored form)."""
        found = await self.get_by_event_ids([event_id])
        return found[0] if found else None

    async def get_by_event_ids(self, event_ids: Iterable[uuid.UUID]) -> list[RecordedEvent]:
        """The recorded events among `event_ids`, in position order (stored form)."""
        return await self._backend.by_event_ids(list(event_ids))

    async def envelopes(self, positions: Iterable[int]) -> list[tuple[int, str, str]]:
        """`(position, stream_id, event_type)` of those of `positions` in the log."""
        return await core.envelopes(self._backend.engine, sorted(set(positions)))

    async def streams_with_prefix(self, prefix: str) -> list[str]:
        """Every stream whose id starts with `prefix`, once each, in no particular order."""
        return await self._backend.streams_with_prefix(prefix)

    async def streams_with_event_type(self, event_type: str, *, after: int = 0) -> list[str]:
        """Every stream with an event of `event_type` after position `after`, once each."""
        return await self._backend.streams_with_event_type(event_type, after)

    # -- the chain walk and the Merkle tree (events.verify_chain, events.log_tree) ---------

    def chain_pages(
        self, after: int = 0, batch: int = 10_000
    ) -> AsyncGenerator[list[ChainRow], None]:
        """Pages of chain rows (`events.store.rows.ChainRow`) after `after`."""
        return self._backend.chain_pages(after, batch)

    async def chain_page(self, after: int, limit: int) -> list[ChainRow]:
        """One page of chain rows after `after`."""
        return await self._backend.chain_page(after, limit)

    @property
    def hashed_form(self) -> Callable[[ChainRow], bytes]:
        """The canonical form `c(e)` of a chain row."""
        return self._backend.hashed_form

    def tree_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction holding the lock of the tree's writers."""
        return self._backend.tree_transaction()

    async def insert_nodes(self, conn: AsyncConnection, nodes: list[tuple[int, int, str]]) -> None:
        """Insert `(level, idx, hash hex)` rows into `merkle_nodes` in `conn`'s transaction."""
        await self._backend.insert_nodes(conn, nodes)
