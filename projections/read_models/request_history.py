"""`request_history`: the audit trail, one row per event of a request stream
(`projections.history`), retracted entries marked with the retraction in effect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.disclosure import erased_marker
from events.store.contract import TableWriter
from events.types import REQUEST_STREAM_PREFIX, request_stream
from projections import history as history_rows
from projections.projection import Batch, EventRow
from projections.read_models.requests import ERASURE, RETRACTION
from projections.tables import request_history


@dataclass(slots=True)
class HistoryWrites:
    """The rows of `request_history` one batch writes."""

    # one record per event (`history.record`)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    # for each request with a retraction in the batch: target -> retraction in effect
    retractions: dict[str, dict[int, int]] = field(default_factory=dict)
    # each erasure of the batch: its position and the positions it erased
    erasures: list[tuple[int, list[int]]] = field(default_factory=list)

    async def flush(self, conn: AsyncConnection, tables: TableWriter) -> None:
        if self.rows:
            await tables.copy_rows(conn, request_history, self.rows)
        if self.retractions:
            await _mark_retractions(conn, self.retractions)
        for by, positions in self.erasures:
            # the actor came from the metadata, which is erased: the marker, as a rebuild
            # reads it (`history.actor_of`)
            await conn.execute(
                update(request_history)
                .where(request_history.c.position.in_(bindparam("erased", expanding=True)))
                .values(actor=erased_marker(by)),
                {"erased": positions},
            )


class RequestHistory:
    """The `request_history` projection. Keeps nothing in memory."""

    name = "request_history"
    tables = (request_history,)

    def reset(self) -> None:
        """Nothing kept."""

    async def start(self, conn: AsyncConnection) -> None:
        """Nothing to load."""

    async def apply(self, batch: Batch, events: Sequence[EventRow]) -> HistoryWrites:
        writes = HistoryWrites()
        rows = writes.rows
        record = history_rows.record
        prefix = REQUEST_STREAM_PREFIX
        cut = len(prefix)
        retracted: set[str] = set()
        for event in events:
            stream_id = event.stream_id
            if event.event_type == ERASURE:
                writes.erasures.append((event.position, list(event.data["positions"])))
            if not stream_id.startswith(prefix):
                continue
            request_id = stream_id[cut:]
            rows.append(record(event, request_id))
            if event.event_type == RETRACTION:
                retracted.add(request_id)
        for request_id in retracted:
            stream = await batch.stream(request_stream(request_id))
            writes.retractions[request_id] = history_rows.retractions(stream)
        return writes


async def _mark_retractions(conn: AsyncConnection, retracted: dict[str, dict[int, int]]) -> None:
    """Every entry of these requests unmarked, then their retracted ones marked."""
    await conn.execute(
        update(request_history)
        .where(request_history.c.request_id.in_(bindparam("ids", expanding=True)))
        .values(retracted_by=None),
        {"ids": sorted(retracted)},
    )
    marks = [
        {"k_position": target, "retracted_by": by}
        for targets in retracted.values()
        for target, by in targets.items()
    ]
    if marks:
        await conn.execute(
            update(request_history)
            .where(request_history.c.position == bindparam("k_position"))
            .values(retracted_by=bindparam("retracted_by")),
            marks,
        )
