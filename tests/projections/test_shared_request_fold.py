"""The fold of request streams that `request_state` and `request_intervals` share
(`read_models.requests.RequestFold`): over random histories cut into random batches
(retractions included), each event's state is the fold of its stream up to it, a
retracted request is re-folded to the batch's end, each batch is folded once, and a
batch that does not start where the last one ended starts from the log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.model import RecordedEvent
from projections.projection import Batch
from projections.read_models.requests import RETRACTION, RequestFold
from projections.request import fold
from tests.projections import histories


class _Log:
    """A `LogReader` over an in-memory log, counting the streams read."""

    def __init__(self, log: list[RecordedEvent]) -> None:
        self.streams: dict[str, list[RecordedEvent]] = defaultdict(list)
        for event in log:
            self.streams[event.stream_id].append(event)
        self.reads = 0

    async def envelopes(self, positions: Iterable[int]) -> list[tuple[int, str, str]]:
        wanted = set(positions)
        found = [e for events in self.streams.values() for e in events if e.position in wanted]
        return sorted((e.position, e.stream_id, e.event_type) for e in found)

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None
    ) -> list[RecordedEvent]:
        self.reads += 1
        return [
            e for e in self.streams[stream_id] if to_position is None or e.position <= to_position
        ]


def _cuts(log: list[RecordedEvent], sizes: list[int]) -> list[list[RecordedEvent]]:
    pages: list[list[RecordedEvent]] = []
    start = 0
    for size in [*sizes, len(log)]:
        if start >= len(log):
            break
        pages.append(log[start : start + size])
        start += size
    return pages


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories.steps, histories.starts, st.lists(st.integers(1, 9), max_size=8))
async def test_each_event_s_state_is_the_fold_of_its_stream(
    draws: list[histories.Draw], start_days: list[int], sizes: list[int]
) -> None:
    log = histories.build(draws, start_days)
    reader = _Log(log)
    kept: dict[type[Any], Any] = {}
    for page in _cuts(log, sizes):
        batch = Batch(page[0].position - 1, page[-1].position, reader, kept=kept)
        folded = await batch.shared(RequestFold).fold(batch, page)
        assert await batch.shared(RequestFold).fold(batch, page) is folded  # once a batch
        retracted = {e.stream_id for e in page if e.event_type == RETRACTION}
        for event, state in zip(page, folded.states, strict=True):
            stream = reader.streams[event.stream_id]
            if event.stream_id in retracted:
                first = min(
                    e.position
                    for e in page
                    if e.stream_id == event.stream_id and e.event_type == RETRACTION
                )
                if event.position >= first:
                    assert state is None
                    continue
            assert state == fold([e for e in stream if e.position <= event.position])
        for stream_id in retracted:
            request_id = stream_id.removeprefix("request-")
            stream = reader.streams[stream_id]
            assert folded.refolded[request_id] == fold(
                [e for e in stream if e.position <= batch.end]
            )
            assert request_id not in folded.last
        for request_id, state in folded.last.items():
            assert state.position == max(
                e.position for e in page if e.stream_id == f"request-{request_id}"
            )
        submitted = {
            e.stream_id.removeprefix("request-")
            for e in page
            if e.event_type == "RequestSubmitted" and e.stream_id not in retracted
        }
        assert folded.submitted == submitted


async def test_a_batch_elsewhere_starts_from_the_log() -> None:
    log = histories.build([(0, 0, 0, 1), (0, 1, 60, 1), (0, 2, 60, 1), (0, 3, 60, 1)], [0] * 4)
    reader = _Log(log)
    shared = RequestFold()
    await shared.fold(Batch(0, 2, reader), log[:2])
    assert reader.reads == 0  # a submission, then its state from the batch
    await shared.fold(Batch(2, 3, reader), log[2:3])
    assert reader.reads == 0  # from the cache
    skipped = await shared.fold(Batch(3, 4, reader), log[3:4])  # fine: starts at 3
    assert reader.reads == 0
    again = await shared.fold(Batch(2, 4, reader), log[2:4])  # not where the last ended
    assert reader.reads == 1
    assert again.states[-1] == skipped.states[-1] == fold(log)
