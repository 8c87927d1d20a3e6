"""What the request projections share: which events are a request's, and retractions.

A retraction makes a stream fold as if its target had never happened, which only a
re-fold can do. Within a batch, a projection that folds state therefore stops folding a
request at its first retraction and re-folds it from its stream (read to the batch's
end, `Batch.stream`) once the batch is folded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from events.types import REQUEST_STREAM_PREFIX
from projections.projection import EventRow

RETRACTION = "EventRetracted"


def request_events(events: Iterable[EventRow], refold: set[str]) -> Iterator[tuple[str, EventRow]]:
    """The events of request streams with their request id, but those of a request
    from its first retraction in the batch on: that request is added to `refold`."""
    prefix = REQUEST_STREAM_PREFIX
    cut = len(prefix)
    for event in events:
        stream_id = event.stream_id
        if not stream_id.startswith(prefix):
            continue
        request_id = stream_id[cut:]
        if request_id in refold:
            continue
        if event.event_type == RETRACTION:
            refold.add(request_id)
            continue
        yield request_id, event
