"""`holds`: one row per hold, from its placing to its end (`projections.holds`).

The active holds of every request are kept in memory (loaded from the table at start):
an event changes at most its request's, and only holds that are new or ended are
written. On PostgreSQL the ended ones are one `UPDATE … FROM unnest(…)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.store.contract import TableWriter
from events.types import request_stream
from projections import holds as hold_rows
from projections.projection import Batch, EventRow
from projections.read_models.requests import request_events
from projections.tables import holds
from projections.writes import delete_keys


@dataclass(slots=True)
class HoldWrites:
    """The rows of `holds` one batch writes, by the position that placed the hold."""

    # placed in the batch (as they stand at its end)
    new: dict[int, hold_rows.Hold] = field(default_factory=dict)
    # placed before the batch, ended in it
    ended: dict[int, hold_rows.Hold] = field(default_factory=dict)
    # every hold of a request with a retraction in the batch: its rows are replaced
    refolded: dict[str, hold_rows.Holds] = field(default_factory=dict)

    async def flush(self, conn: AsyncConnection, tables: TableWriter) -> None:
        if self.refolded:
            await delete_keys(conn, holds, "request_id", self.refolded)
            for every in self.refolded.values():
                self.new.update((hold.position, hold) for hold in every)
        if self.new:
            await tables.copy_rows(conn, holds, [hold.record() for hold in self.new.values()])
        if self.ended:
            await tables.update_rows(
                conn,
                holds,
                "position",
                ("ended_at", "end_kind"),
                [(hold.position, hold.ended_at, hold.end) for hold in self.ended.values()],
            )


class Holds:
    """The `holds` projection."""

    name = "holds"
    tables = (holds,)

    def __init__(self) -> None:
        # request id -> its active holds, as of the end of the last batch folded
        self._active: dict[str, hold_rows.Holds] | None = None

    def reset(self) -> None:
        self._active = None

    async def start(self, conn: AsyncConnection) -> None:
        if self._active is None:
            self._active = await _load_active(conn)

    async def apply(self, batch: Batch, events: Sequence[EventRow]) -> HoldWrites:
        active = self._active
        assert active is not None, "start() first"
        writes = HoldWrites()
        refold: set[str] = set()
        for _, request_id, event in request_events(events, refold):
            before = active.get(request_id, ())
            after = hold_rows.evolve(before, event)
            if after is before:
                continue
            known = {id(hold) for hold in before}
            for hold in after:
                if id(hold) in known:
                    continue
                if hold.position > batch.start:
                    writes.new[hold.position] = hold
                else:
                    writes.ended[hold.position] = hold
            still = tuple(hold for hold in after if hold.active)
            if still:
                active[request_id] = still
            else:
                active.pop(request_id, None)
        for request_id in refold:
            for rows in (writes.new, writes.ended):
                for position in [p for p, hold in rows.items() if hold.request_id == request_id]:
                    del rows[position]
            every = writes.refolded[request_id] = hold_rows.fold(
                await batch.stream(request_stream(request_id))
            )
            still = tuple(hold for hold in every if hold.active)
            if still:
                active[request_id] = still
            else:
                active.pop(request_id, None)
        return writes


async def _load_active(conn: AsyncConnection) -> dict[str, hold_rows.Holds]:
    result = await conn.execute(
        select(
            holds.c.position,
            holds.c.request_id,
            holds.c.procedure,
            holds.c.member,
            holds.c.placed_at,
        )
        .where(holds.c.ended_at.is_(None))
        .order_by(holds.c.position)
    )
    active: dict[str, hold_rows.Holds] = {}
    for position, request_id, procedure, member, placed_at in result:
        hold = hold_rows.Hold(position, request_id, procedure, member, placed_at)
        active[request_id] = (*active.get(request_id, ()), hold)
    return active
