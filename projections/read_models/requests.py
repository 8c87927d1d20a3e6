"""What the request projections share: which events are a request's, retractions, and
the per-event fold of request streams.

A retraction makes a stream fold as if its target had never happened, which only a
re-fold can do. Within a batch, a projection that folds state therefore stops folding a
request at its first retraction and re-folds it from its stream (read to the batch's
end, `Batch.stream`) once the batch is folded.

`request_state` and `request_intervals` both need each request's state after every
event: `RequestFold` folds a batch once for both (`Batch.shared`), instead of each
evolving its own copy of every state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from events.types import REQUEST_STREAM_PREFIX, request_stream
from projections.projection import Batch, EventRow
from projections.request import RequestState, evolve, fold

RETRACTION = "EventRetracted"
ERASURE = "ErasureRecorded"


async def erased_requests(batch: Batch, events: Iterable[EventRow]) -> set[str]:
    """The requests of which an `ErasureRecorded` of the batch erased events: their folds
    hold the erased values, so they are folded again from their streams, which read the
    markers (SPEC §4 "Erasure"; a rebuild folds the markers from the start)."""
    positions = [p for e in events if e.event_type == ERASURE for p in e.data["positions"]]
    if not positions:
        return set()
    prefix = REQUEST_STREAM_PREFIX
    return {
        stream_id[len(prefix) :]
        for _, stream_id, _ in await batch.log.envelopes(positions)
        if stream_id.startswith(prefix)
    }


def request_events(
    events: Iterable[EventRow], refold: set[str]
) -> Iterator[tuple[int, str, EventRow]]:
    """The events of request streams with their index in `events` and their request id,
    but those of a request from its first retraction in the batch on: that request is
    added to `refold`."""
    prefix = REQUEST_STREAM_PREFIX
    cut = len(prefix)
    for index, event in enumerate(events):
        stream_id = event.stream_id
        if not stream_id.startswith(prefix):
            continue
        request_id = stream_id[cut:]
        if request_id in refold:
            continue
        if event.event_type == RETRACTION:
            refold.add(request_id)
            continue
        yield index, request_id, event


@dataclass(slots=True)
class FoldedBatch:
    """A batch's request events, folded (`RequestFold.fold`)."""

    # the state after each of the batch's events (same order); None for events of other
    # streams, and for those of a request from its first retraction in the batch on
    states: list[RequestState | None] = field(default_factory=list)
    # each request's state after its last event in the batch, those refolded excepted
    last: dict[str, RequestState] = field(default_factory=dict)
    # the requests submitted in the batch (no state before it), those refolded excepted
    submitted: set[str] = field(default_factory=set)
    # requests with a retraction in the batch: their stream to the batch's end, re-folded
    # (None: nothing left of them)
    refolded: dict[str, RequestState | None] = field(default_factory=dict)


#: How many requests' states a process keeps across batches, in the fold's LRU and in the
#: intervals' (`RequestIntervals`). A worker of a rebuild in N processes folds 1/N of
#: the requests and keeps 1/N as many (`projections.runner.partitioned`).
CACHED_REQUESTS = 20_000


class RequestFold:
    """Each request's state after every event of a batch, folded once whichever
    projection asks first (`batch.shared(RequestFold).fold(batch, events)`). The states
    as of the end of the last batch folded are kept in an LRU, so that an event costs
    one `evolve`; a state not in it is folded from its stream, and a batch that does not
    start where the last one ended starts from an empty cache. 20,000 states: a rebuild
    of 1,000,000 events (141,000 requests) peaks at ~320 MB with them and the intervals'
    heads, ~515 MB with 50,000 each, for the same CPU (requests are active in windows).
    The size is the process's `CACHED_REQUESTS` unless told."""

    def __init__(self, cache_size: int | None = None) -> None:
        self._cache_size = CACHED_REQUESTS if cache_size is None else cache_size
        self._states: OrderedDict[str, RequestState] = OrderedDict()
        self._at: int | None = None  # the end of the last batch folded
        self._last: tuple[Batch, FoldedBatch] | None = None

    async def fold(self, batch: Batch, events: Sequence[EventRow]) -> FoldedBatch:
        """The batch's events (all of them, in position order) folded."""
        last = self._last
        if last is not None and last[0] is batch:
            return last[1]
        if self._at != batch.start:
            self._states.clear()
        folded = FoldedBatch([None] * len(events))
        states, after, submitted = folded.states, folded.last, folded.submitted
        refold: set[str] = await erased_requests(batch, events)
        for index, request_id, event in request_events(events, refold):
            state: RequestState | None = None
            if event.event_type == "RequestSubmitted":
                submitted.add(request_id)
            else:
                state = after.get(request_id)
                if state is None:
                    state = await self._state(batch, request_id, event.position - 1)
            states[index] = after[request_id] = evolve(state, event)
        for request_id in refold:
            after.pop(request_id, None)
            submitted.discard(request_id)
            folded.refolded[request_id] = fold(await batch.stream(request_stream(request_id)))
        # the cache learns the batch's states at its end (lookups within the batch find
        # them in the batch first)
        for state in after.values():
            self._remember(state)
        for request_id, refolded in folded.refolded.items():
            self._states.pop(request_id, None)
            if refolded is not None:
                self._remember(refolded)
        self._at = batch.end
        self._last = (batch, folded)
        return folded

    async def _state(self, batch: Batch, request_id: str, before: int) -> RequestState | None:
        state = self._states.get(request_id)
        if state is not None:
            self._states.move_to_end(request_id)
            return state
        stream = await batch.log.read_stream(request_stream(request_id), to_position=before)
        return fold(stream) if stream else None

    def _remember(self, state: RequestState) -> None:
        self._states[state.request_id] = state
        self._states.move_to_end(state.request_id)
        while len(self._states) > self._cache_size:
            self._states.popitem(last=False)
