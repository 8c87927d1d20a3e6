"""The bitemporal projection: keeps `request_status_intervals`, `hold_intervals` and
`request_versions` (see `projections.intervals` for the law) up to date with the log.

A `Projection` in the runner's sense: `apply(events)` folds a batch in memory,
`flush(conn, writer)` writes it in the runner's transaction (which also moves the
projection's checkpoint, `NAME`; bulk rows through the backend's `TableWriter`),
`reset()` forgets what is in memory (after a rollback, and before a rebuild).
Heads of streams not in memory are recomputed by replaying the stream, read through
`load_stream(stream_id, to_position)`; so is the history a retraction re-folds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.store.contract import TableWriter
from events.types import REQUEST_STREAM_PREFIX
from projections import interval_tables as tables
from projections.history import EventRow
from projections.intervals import HoldInterval, StatusInterval, StreamHead, Version, advance

#: Reads a stream's events with positions up to `to_position`, in version order, at
#: their latest schema version (`EventStore.read_stream(stream_id, to_position=...)`).
LoadStream = Callable[[str, int], Awaitable[Sequence[EventRow]]]

StatusKey = tuple[str, int, datetime]
HoldKey = tuple[str, int, int, datetime]


def _close_statement(table: Table, key: Sequence[str]) -> Any:
    c = table.c
    return (
        update(table)
        .where(and_(*(c[name] == bindparam(f"k_{name}") for name in key)))
        .values(recorded_to=bindparam("k_recorded_to"))
    )


_CLOSE_STATUS = _close_statement(
    tables.request_status_intervals, ("request_id", "recorded_from", "valid_from")
)
_CLOSE_HOLD = _close_statement(
    tables.hold_intervals, ("request_id", "hold_position", "recorded_from", "valid_from")
)


class RequestIntervals:
    """The `request_intervals` projection."""

    name = tables.NAME
    tables = tables.TABLES

    def __init__(
        self, load_stream: LoadStream, tz: tzinfo = UTC, *, head_cache_size: int = 50_000
    ) -> None:
        self._load = load_stream
        self._tz = tz
        self._cache_size = head_cache_size
        self._heads: OrderedDict[str, StreamHead] = OrderedDict()
        self._status: dict[StatusKey, StatusInterval] = {}
        self._holds: dict[HoldKey, HoldInterval] = {}
        self._versions: list[Version] = []
        self._close_status: dict[StatusKey, int] = {}
        self._close_holds: dict[HoldKey, int] = {}

    def reset(self) -> None:
        """Forget the heads and the unflushed batch."""
        self._heads.clear()
        self._clear_batch()

    def _clear_batch(self) -> None:
        self._status = {}
        self._holds = {}
        self._versions = []
        self._close_status = {}
        self._close_holds = {}

    async def _head(self, stream_id: str, before: int) -> StreamHead | None:
        head = self._heads.get(stream_id)
        if head is not None:
            self._heads.move_to_end(stream_id)
            return head
        if before < 1:
            return None
        # not in memory: replay the stream up to the event before (rows discarded)
        history = await self._load(stream_id, before)
        seen: list[EventRow] = []
        for event in history:
            head = advance(head, event, seen, self._tz).head
            seen.append(event)
        return head

    def _remember(self, stream_id: str, head: StreamHead | None) -> None:
        if head is None:
            self._heads.pop(stream_id, None)
            return
        self._heads[stream_id] = head
        self._heads.move_to_end(stream_id)
        while len(self._heads) > self._cache_size:
            self._heads.popitem(last=False)

    async def apply(self, events: Iterable[EventRow]) -> None:
        """Fold a batch of events (in position order) into rows to write at `flush`."""
        for event in events:
            stream_id = event.stream_id
            if not stream_id.startswith(REQUEST_STREAM_PREFIX):
                continue
            if event.event_type == "RequestSubmitted":
                head = None
            else:
                head = await self._head(stream_id, event.position - 1)
            history = None
            if event.event_type == "EventRetracted":
                history = await self._load(stream_id, event.position - 1)
            result = advance(head, event, history, self._tz)
            at = result.closed_at
            for key in result.close_status:
                pending = self._status.get(key)
                if pending is not None:  # inserted in this batch: close it before writing
                    self._status[key] = replace(pending, recorded_to=at)
                else:
                    self._close_status[key] = at
            for hold_key in result.close_holds:
                pending_hold = self._holds.get(hold_key)
                if pending_hold is not None:
                    self._holds[hold_key] = replace(pending_hold, recorded_to=at)
                else:
                    self._close_holds[hold_key] = at
            self._status.update((row.key, row) for row in result.insert_status)
            self._holds.update((row.key, row) for row in result.insert_holds)
            if result.version is not None:
                self._versions.append(result.version)
            self._remember(stream_id, result.head)

    async def flush(self, conn: AsyncConnection, writer: TableWriter) -> None:
        """Write the batch in `conn`'s transaction: close superseded rows, insert new."""
        try:
            if self._close_status:
                await conn.execute(
                    _CLOSE_STATUS,
                    [
                        {
                            "k_request_id": r,
                            "k_recorded_from": p,
                            "k_valid_from": v,
                            "k_recorded_to": to,
                        }
                        for (r, p, v), to in self._close_status.items()
                    ],
                )
            if self._close_holds:
                await conn.execute(
                    _CLOSE_HOLD,
                    [
                        {
                            "k_request_id": r,
                            "k_hold_position": h,
                            "k_recorded_from": p,
                            "k_valid_from": v,
                            "k_recorded_to": to,
                        }
                        for (r, h, p, v), to in self._close_holds.items()
                    ],
                )
            await writer.copy_rows(
                conn,
                tables.request_status_intervals,
                [tables.status_record(row) for row in self._status.values()],
            )
            await writer.copy_rows(
                conn,
                tables.hold_intervals,
                [tables.hold_record(row) for row in self._holds.values()],
            )
            await writer.copy_rows(
                conn, tables.request_versions, [tables.version_record(v) for v in self._versions]
            )
        finally:
            self._clear_batch()
