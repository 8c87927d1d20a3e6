"""`request_state`: one row per request, its state folded to the last event.

The row holds the columns the list and statistics endpoints filter on (they derive the
status now from them: `projections.tables.status_at` / `status_is`) and, for a request
the public may see, what the public feeds are made of: `public_view` of the state as of
its last event, its keys that are columns of the row in them (`PUBLIC_COLUMNS`) and the
others in `public_document` (`public_of` puts them together). Nothing else of the
request is copied from the log:
a request's whole view is its stream folded when asked for (SPEC §5: a read model need
not copy the log). The states are the runner's fold of request streams
(`read_models.requests.RequestFold`, shared with `request_intervals`): an event costs
one `evolve`, not a re-read of its stream.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from events.store.contract import TableWriter
from events.types import request_stream
from projections.projection import Batch, EventRow
from projections.read_models import requests
from projections.read_models.requests import RequestFold
from projections.request import RequestState, public_view, status
from projections.request.state import native_time
from projections.tables import request_state
from projections.writes import delete_keys

#: The keys of `public_view` that `request_state` holds as columns (key: its column):
#: the row's `public_document` holds the others.
PUBLIC_COLUMNS = {
    "request_id": "request_id",
    "status": "status_hint",
    "title": "title",
    "disclosure": "disclosure",
    "submitted_at": "submitted_at",
    "approved_at": "approved_at",
    "valid_from": "valid_from",
    "valid_until": "valid_until",
    "refused_at": "refused_at",
    "withdrawn_at": "withdrawn_at",
}


def public_document(public: dict[str, Any] | None) -> str | None:
    """What `public_document` holds of a public view (`public_view` of a state as of its
    last event, its times as `native_time` gives them): the view less its
    `PUBLIC_COLUMNS`, as JSON text; None for None (the public may not see the request)."""
    if public is None:
        return None
    kept = {key: value for key, value in public.items() if key not in PUBLIC_COLUMNS}
    return orjson.dumps(kept, option=orjson.OPT_UTC_Z).decode()


def public_of(row: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The public view a `request_state` row holds (its columns by name, its document
    as stored or parsed), or None when the public may not see the request: its
    document with its `PUBLIC_COLUMNS`, whose times and days stay the columns' datetimes
    and dates (`projections.public` reads either form)."""
    document = row["public_document"]
    if document is None:
        return None
    public = orjson.loads(document) if isinstance(document, str | bytes) else dict(document)
    for key, column in PUBLIC_COLUMNS.items():
        public[key] = row[column]
    return public


def state_record(state: RequestState) -> tuple[Any, ...]:
    """The `request_state` row of a request state, as a tuple in the table's column order
    (what a bulk write sends), with its `public_document`; the list and statistics
    endpoints derive the status now from the columns."""
    last = state.last_occurred_at
    public = public_view(state, last, time=native_time)
    active = state.active_holds
    initial = state.procedures[0]
    applicant = state.applicant
    return (
        state.request_id,
        request_stream(state.request_id),
        state.stream_version,
        state.position,
        state.submitted_at,
        state.last_occurred_at,
        str(applicant.get("name", "")),
        str(applicant.get("kind", "")),
        state.channel,
        state.sponsor,
        state.title,
        bool(state.urgent),
        state.disclosure,
        status(state, last) if public is None else public["status"],
        state.open_procedure,
        initial.circulated_at,
        state.deadline,
        len(active),
        "," + ",".join(sorted({h.member for h in active})) + "," if active else None,
        state.information_pending,
        initial.decided_at,
        initial.outcome,
        state.approved_at,
        state.refused_at,
        state.withdrawn_at,
        state.valid_from,
        state.valid_until,
        public_document(public),
    )


@dataclass(slots=True)
class StateWrites:
    """The rows of `request_state` one batch writes."""

    # requests submitted in the batch (or whose row a re-fold replaces)
    new: dict[str, RequestState] = field(default_factory=dict)
    # requests with a row already, changed by the batch
    changed: dict[str, RequestState] = field(default_factory=dict)
    # requests with a retraction in the batch, re-folded (None: nothing left of them)
    refolded: dict[str, RequestState | None] = field(default_factory=dict)

    async def flush(self, conn: AsyncConnection, tables: TableWriter) -> None:
        if self.refolded:
            await delete_keys(conn, request_state, "request_id", self.refolded)
            for request_id, state in self.refolded.items():
                if state is not None:
                    self.new[request_id] = state
        await tables.replace_rows(
            conn,
            request_state,
            "request_id",
            [state_record(s) for s in self.changed.values()],
            new=[state_record(s) for s in self.new.values()],
        )


class RequestStates:
    """The `request_state` projection.

    A rebuild writes each request's row once: its state is held back (an LRU of the
    fold's size, `requests.CACHED_REQUESTS`) until the request has been left alone that
    long, or to the rebuild's end (`held`). Requests are active in windows of the log, so
    a request held back is rarely touched again once written; were it, its row would be
    replaced. Each batch of an incremental catch-up writes the rows of the requests it
    changed."""

    name = "request_state"
    tables = (request_state,)

    def __init__(self) -> None:
        # in a rebuild: the states not yet written, least recently changed first, and
        # the requests with a row written
        self._held: OrderedDict[str, RequestState] = OrderedDict()
        self._written: set[str] = set()

    def reset(self) -> None:
        """The states are the runner's `RequestFold` (`Batch.shared`); nothing held."""
        self._held.clear()
        self._written.clear()

    async def start(self, conn: AsyncConnection) -> None:
        """Nothing to load: states not in the fold's cache are folded from their stream."""

    async def apply(self, batch: Batch, events: Sequence[EventRow]) -> StateWrites:
        folded = await batch.shared(RequestFold).fold(batch, events)
        writes = StateWrites(refolded=dict(folded.refolded))
        if batch.rebuilding:
            self._hold(writes, folded.last)
            return writes
        new, changed, submitted = writes.new, writes.changed, folded.submitted
        for request_id, state in folded.last.items():
            if request_id in submitted:
                new[request_id] = state
            else:
                changed[request_id] = state
        return writes

    def _hold(self, writes: StateWrites, last: dict[str, RequestState]) -> None:
        """The batch's states held back; those held longest written, and the refolded
        ones (replaced whole)."""
        held, written = self._held, self._written
        for request_id in writes.refolded:
            held.pop(request_id, None)
            written.add(request_id)
        for request_id, state in last.items():
            held[request_id] = state
            held.move_to_end(request_id)
        while len(held) > requests.CACHED_REQUESTS:
            self._write(writes, *held.popitem(last=False))

    def _write(self, writes: StateWrites, request_id: str, state: RequestState) -> None:
        if request_id in self._written:
            writes.changed[request_id] = state
        else:
            writes.new[request_id] = state
            self._written.add(request_id)

    def held(self) -> StateWrites | None:
        """The states still held back by a rebuild's batches; the rebuild forgotten."""
        held, self._held = self._held, OrderedDict()
        writes = StateWrites()
        for request_id, state in held.items():
            self._write(writes, request_id, state)
        self._written.clear()
        return writes if held else None
