"""Reading the log for the runner: pages of events, read ahead.

A short read (a serving process catching up) takes the store's pages (`read_all`), the
next one read while this one is folded and written: the log is immutable, so a page
read ahead is good as long as it starts where the runner is. A long read (a rebuild, a
large lag) on PostgreSQL takes the store's raw pages (`raw_pages`: JSON as text, read
ahead on their own connection) and makes of each row the light event the projections
read (`RowEvent`), upcast only when the data has upcasters. A worker of a rebuild in
processes reads only its partition's streams (`partition`), always as raw pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import orjson

from events.gcpause import gc_paused
from events.model import RecordedEvent
from events.store import EventStore
from events.store.contract import Partition
from projections.errors import ProjectionError
from projections.projection import EventRow


class RowEvent:
    """An event of a raw row as the projections read it (`EventRow`): no event id,
    hashes or schema version parsed, and its metadata parsed only when read. A
    partition's row (`FoldRow`) holds neither metadata nor `recorded_at`, which no fold
    reads: asking for them is an error (`NotRead`). Its data is at the latest version."""

    __slots__ = (
        "_metadata",
        "_recorded",
        "data",
        "event_type",
        "occurred_at",
        "position",
        "stream_id",
        "stream_version",
    )

    def __init__(
        self,
        position: int,
        stream_id: str,
        stream_version: int,
        event_type: str,
        data: dict[str, Any],
        metadata: str | dict[str, Any] | None,
        occurred_at: datetime,
        recorded_at: datetime | None,
    ) -> None:
        self.position = position
        self.stream_id = stream_id
        self.stream_version = stream_version
        self.event_type = event_type
        self.data = data
        self._metadata = metadata  # JSON text until read; None: not read from the log
        self.occurred_at = occurred_at
        self._recorded = recorded_at

    @property
    def metadata(self) -> dict[str, Any]:
        metadata = self._metadata
        if metadata is None:
            raise NotRead(self.position, "metadata")
        if isinstance(metadata, str):
            metadata = self._metadata = orjson.loads(metadata)
        return metadata

    @property
    def recorded_at(self) -> datetime:
        if self._recorded is None:
            raise NotRead(self.position, "recorded_at")
        return self._recorded


class NotRead(ProjectionError, AttributeError):
    """A field a rebuild's partition pages do not read (`FoldRow`) was asked for."""

    def __init__(self, position: int, field: str) -> None:
        super().__init__(
            f"event {position} was read for a rebuild's fold, which reads no {field}"
            " (events.store.rows.FoldRow): read the event from the store"
        )


#: Where `PageReader._events` finds an event's fields in a row: position, stream_id,
#: stream_version, event_type, schema_version, data, metadata, occurred_at, recorded_at.
_RAW_ROW = operator.itemgetter(0, 2, 3, 4, 5, 6, 7, 8, 9)  # `events.store.RawRow`
_FOLD_ROW = operator.itemgetter(0, 1, 2, 3, 4, 5, 6, 7, 8)  # `events.store.FoldRow`


class PageReader:
    """Pages of up to `batch_size` events for one runner (see the module)."""

    def __init__(
        self, store: EventStore, batch_size: int, partition: Partition | None = None
    ) -> None:
        self._store = store
        self.batch_size = batch_size
        # raw pages are read when their times are aware datetimes (PostgreSQL's: on
        # SQLite they are text, and the store's own pages are as fast)
        self._raw_capable = not store.raw_times_as_text
        self._partition = partition
        if partition is not None and store.partitioned_rebuilds is None:
            raise ValueError("this store's backend reads no partitions")
        self._prefetched: tuple[int, asyncio.Task[list[RecordedEvent]]] | None = None
        # the raw pages being read: (the position the next page starts after, pages)
        self._raw: tuple[int, AsyncGenerator[list[Any], None]] | None = None
        # how the rows of the raw pages being read hold an event's fields
        self._fields = _FOLD_ROW if partition is not None else _RAW_ROW
        # whether data of (event type, schema version) has upcasters
        self._upcastable: dict[tuple[str, int], bool] = {}
        self.full_page = False  # whether the last page read was a full one

    @property
    def reading_raw(self) -> bool:
        """Whether raw pages are being read (a long read is under way)."""
        return self._raw is not None

    @property
    def long_read_next(self) -> bool:
        """Whether the next page will open raw pages (the last one was full)."""
        return self._raw_capable and self.full_page

    def restart(self) -> None:
        """A new run: nothing is known of its length."""
        self.full_page = False

    def prefetch(self, after: int) -> None:
        """Start reading the store's page after `after`."""
        self._prefetched = (after, asyncio.create_task(self._read_page(after)))

    async def page(self, start: int, bound: int | None) -> list[EventRow]:
        """The events after `start` (up to `bound`), one page."""
        prefetched, self._prefetched = self._prefetched, None
        page: list[EventRow]
        if prefetched is not None and prefetched[0] == start:
            page = list(await prefetched[1])
        else:
            if prefetched is not None:
                prefetched[1].cancel()
            with gc_paused():
                raw_page = await self._raw_page(start, bound)
            page = list(await self._read_page(start)) if raw_page is None else raw_page
        self.full_page = len(page) >= self.batch_size
        if bound is not None:
            page = [event for event in page if event.position <= bound]
        return page

    async def close(self) -> None:
        """Stop reading ahead (the raw pages' connection is released)."""
        await self._close_raw()
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None:
            prefetched[1].cancel()
            with contextlib.suppress(BaseException):
                await prefetched[1]

    async def _read_page(self, after: int) -> list[RecordedEvent]:
        return await self._store.read_all(after, self.batch_size, upcast=True)

    async def _close_raw(self) -> None:
        reading, self._raw = self._raw, None
        if reading is not None:
            await reading[1].aclose()

    async def _raw_page(self, start: int, until: int | None) -> list[EventRow] | None:
        """The page after `start` from raw pages, opened when more than two pages are
        to be read on PostgreSQL; None when raw pages are not the way to read it."""
        if self._raw is not None and self._raw[0] != start:
            await self._close_raw()
        if self._raw is None and self._partition is not None:
            self._raw = (start, self._partition_pages(start, until))
        if self._raw is None:
            if not self._raw_capable:
                return None
            if until is None:
                # no bound (a catch-up): long if the last page read was full; no head()
                # query on every catch-up of a serving process
                if not self.full_page:
                    return None
            elif until - start <= 2 * self.batch_size:
                return None
            self._raw = (start, self._store.raw_pages(start, self.batch_size))
        pages = self._raw[1]
        rows = await anext(pages, None)
        if rows is None:
            await self._close_raw()
            return []
        self._raw = (rows[-1][0], pages)
        return self._events(rows)

    def _partition_pages(self, start: int, until: int | None) -> AsyncGenerator[list[Any], None]:
        partitioned, partition = self._store.partitioned_rebuilds, self._partition
        if partitioned is None or partition is None or until is None:
            raise ValueError("a partition is read up to a bound")
        return partitioned.partition_pages(partition, start, until, self.batch_size)

    def _events(self, rows: list[Any]) -> list[EventRow]:
        """Events of raw PostgreSQL rows (`events.store.RawRow`, or `FoldRow` for a
        partition), their data upcast where it has upcasters."""
        upcasters = self._store.upcasters
        upcast = upcasters.upcast_data
        upcastable = self._upcastable
        fields = self._fields
        loads = orjson.loads
        found: list[EventRow] = []
        for row in rows:
            position, stream_id, version, event_type, schema, data, metadata, occurred, recorded = (
                fields(row)
            )
            key = (event_type, schema)
            needs = upcastable.get(key)
            if needs is None:
                needs = upcastable[key] = upcasters.latest_version(*key) != schema
            data = loads(data)
            if needs:
                data = upcast(event_type, schema, data)[0]
            if occurred.tzinfo is not UTC:
                occurred = occurred.astimezone(UTC)
            if recorded is not None and recorded.tzinfo is not UTC:
                recorded = recorded.astimezone(UTC)
            found.append(
                RowEvent(
                    position, stream_id, version, event_type, data, metadata, occurred, recorded
                )
            )
        return found
