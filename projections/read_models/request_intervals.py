"""`request_intervals`: the bitemporal projection. Keeps `request_status_intervals`,
`hold_intervals` (see `projections.intervals.steps` for the law) up to date with the log, so
that collection reads as of any moment are interval lookups
(`projections.intervals.queries`).

Each request's state after each event is the fold `request_state` uses too
(`read_models.requests.RequestFold`, made once per batch, `Batch.shared`); from there an
event costs one `intervals.follow`. Each request's last `StreamHead` (its state, holds
and live rows) is kept in an LRU across batches; a head not in memory is recomputed by
replaying its stream up to the event before, and a retraction replays the stream's
history (`Batch.stream`, shared with the other projections) to learn every row it
shows, which it replaces at every business time (`intervals.retract`). Rows are only inserted
(COPY on PostgreSQL), settled once (`settled_from`, `valid_to` set; a hold's row: its
end) and closed once
(`recorded_to` set). The committee's time zone
(`Batch.time_zone`) cuts `active` from `expired`: a deployment that changes it must
`docket rebuild request_intervals`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.store.contract import TableWriter
from events.types import REQUEST_STREAM_PREFIX
from projections.intervals import tables
from projections.intervals.steps import (
    HoldInterval,
    StatusInterval,
    StreamHead,
    advance,
    follow,
    stream_intervals,
)
from projections.projection import Batch, EventRow
from projections.read_models import requests
from projections.read_models.requests import RETRACTION, RequestFold

StatusKey = tuple[str, int, datetime]
HoldKey = tuple[str, int, int]


def _update_statement(table: Table, key: Sequence[str], columns: Sequence[str]) -> Any:
    c = table.c
    return (
        update(table)
        .where(and_(*(c[name] == bindparam(f"k_{name}") for name in key)))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


_STATUS_KEY = ("request_id", "recorded_from", "valid_from")
_HOLD_KEY = ("request_id", "hold_position", "recorded_from")
_CLOSE_STATUS = _update_statement(tables.request_status_intervals, _STATUS_KEY, ["recorded_to"])
_CLOSE_HOLD = _update_statement(tables.hold_intervals, _HOLD_KEY, ["recorded_to"])
_SETTLED = ("valid_to", "settled_from", "span_class")
_SETTLE_STATUS = _update_statement(
    tables.request_status_intervals, _STATUS_KEY, [*_SETTLED, "live_to"]
)
_ENDED = ("ended_at", "end_kind", "ended_from", "ended_us", "held_us", "span_class")
_END_HOLD = _update_statement(tables.hold_intervals, _HOLD_KEY, _ENDED)


def _keyed(names: Sequence[str], key: tuple[Any, ...], **values: Any) -> dict[str, Any]:
    return {
        **{f"k_{name}": part for name, part in zip(names, key, strict=True)},
        **{f"v_{name}": value for name, value in values.items()},
    }


def _settled(row: StatusInterval) -> dict[str, Any]:
    return {
        "valid_to": row.valid_to,
        "settled_from": row.settled_from,
        "span_class": tables.span_class(row.valid_from, row.valid_to),
    }


def _ended(row: HoldInterval) -> dict[str, Any]:
    """The columns a hold's end sets, as `tables.hold_record` writes them."""
    columns = tables.hold_intervals.c.keys()
    values = dict(zip(columns, tables.hold_record(row), strict=True))
    return {name: values[name] for name in _ENDED}


@dataclass(slots=True)
class IntervalWrites:
    """The rows one batch writes: new rows (as settled within the batch), the positions
    that closed some of them within the batch (`closed`), the closing position of rows
    written by earlier batches, and those rows settled."""

    status: dict[StatusKey, StatusInterval] = field(default_factory=dict)
    holds: dict[HoldKey, HoldInterval] = field(default_factory=dict)
    closed: dict[Any, int] = field(default_factory=dict)
    close_status: dict[StatusKey, int] = field(default_factory=dict)
    close_holds: dict[HoldKey, int] = field(default_factory=dict)
    settle_status: dict[StatusKey, StatusInterval] = field(default_factory=dict)
    settle_holds: dict[HoldKey, HoldInterval] = field(default_factory=dict)

    def status_records(self) -> list[tuple[Any, ...]]:
        closed = self.closed
        record = tables.status_record
        return [record(row, closed.get(key)) for key, row in self.status.items()]

    def hold_records(self) -> list[tuple[Any, ...]]:
        closed = self.closed
        record = tables.hold_record
        return [record(row, closed.get(key)) for key, row in self.holds.items()]

    async def flush(self, conn: AsyncConnection, writer: TableWriter) -> None:
        if self.settle_status:
            await conn.execute(
                _SETTLE_STATUS,
                [
                    _keyed(_STATUS_KEY, key, live_to=row.live_to, **_settled(row))
                    for key, row in self.settle_status.items()
                ],
            )
        if self.settle_holds:
            await conn.execute(
                _END_HOLD,
                [_keyed(_HOLD_KEY, key, **_ended(row)) for key, row in self.settle_holds.items()],
            )
        if self.close_status:
            await conn.execute(
                _CLOSE_STATUS,
                [_keyed(_STATUS_KEY, key, recorded_to=to) for key, to in self.close_status.items()],
            )
        if self.close_holds:
            await conn.execute(
                _CLOSE_HOLD,
                [_keyed(_HOLD_KEY, key, recorded_to=to) for key, to in self.close_holds.items()],
            )
        if self.status:
            await writer.copy_rows(conn, tables.request_status_intervals, self.status_records())
        if self.holds:
            await writer.copy_rows(conn, tables.hold_intervals, self.hold_records())


class RequestIntervals:
    """The `request_intervals` projection."""

    name = tables.NAME
    tables = tables.TABLES

    def __init__(self, head_cache_size: int | None = None) -> None:  # as `RequestFold`'s
        self._cache_size = requests.CACHED_REQUESTS if head_cache_size is None else head_cache_size
        # each request stream's head as of the end of the last batch folded, LRU first
        self._heads: OrderedDict[str, StreamHead] = OrderedDict()

    def reset(self) -> None:
        self._heads.clear()

    async def start(self, conn: AsyncConnection) -> None:
        """Nothing to load: heads not in memory are replayed from their stream."""

    def held(self) -> None:
        """Nothing held back: each batch writes its rows."""
        return None

    async def _replayed(
        self, batch: Batch, stream_id: str, before: int, tz: tzinfo
    ) -> StreamHead | None:
        """The stream's head after the event at `before` (none in memory): its stream
        replayed up to there, the rows discarded."""
        history = await batch.log.read_stream(stream_id, to_position=before)
        return stream_intervals(history, tz).head

    async def apply(self, batch: Batch, events: Sequence[EventRow]) -> IntervalWrites:
        writes = IntervalWrites()
        status, holds, closed = writes.status, writes.holds, writes.closed
        close_status, close_holds = writes.close_status, writes.close_holds
        settle_status, settle_holds = writes.settle_status, writes.settle_holds
        tz = batch.time_zone
        prefix = REQUEST_STREAM_PREFIX
        heads = self._heads
        # each event's state: the fold `request_state` uses too, made once per batch
        folded = await batch.shared(RequestFold).fold(batch, events)
        for event, state in zip(events, folded.states, strict=True):
            stream_id = event.stream_id
            if state is None and not stream_id.startswith(prefix):
                continue
            head = heads.pop(stream_id, None)  # put back last: the LRU's most recent
            if event.event_type in ("RequestSubmitted", RETRACTION):
                head = None  # a retraction replays the stream's history itself
            elif head is None:
                head = await self._replayed(batch, stream_id, event.position - 1, tz)
            if state is not None:
                result = follow(head, event, state, tz)
            else:
                # from the request's first retraction in the batch on, the shared fold
                # leaves it to us (a retraction re-folds the stream's history)
                history: list[EventRow] | None = None
                if event.event_type == RETRACTION:
                    stream = await batch.stream(stream_id)
                    history = [e for e in stream if e.position < event.position]
                result = advance(head, event, history, tz)
            for settled in result.settle_status:
                if settled.key in status:  # inserted in this batch: written settled
                    status[settled.key] = settled
                else:
                    settle_status[settled.key] = settled
            for settled_hold in result.settle_holds:
                if settled_hold.key in holds:
                    holds[settled_hold.key] = settled_hold
                else:
                    settle_holds[settled_hold.key] = settled_hold
            at = result.closed_at
            for key in result.close_status:
                if key in status:  # inserted in this batch: written closed
                    closed[key] = at
                else:
                    close_status[key] = at
            for hold_key in result.close_holds:
                if hold_key in holds:
                    closed[hold_key] = at
                else:
                    close_holds[hold_key] = at
            for row in result.insert_status:  # `row.key`, without its call
                status[row.request_id, row.recorded_from, row.valid_from] = row
            for hold_row in result.insert_holds:
                holds[hold_row.key] = hold_row
            if result.head is not None:
                heads[stream_id] = result.head
                if len(heads) > self._cache_size:
                    heads.popitem(last=False)
        return writes
