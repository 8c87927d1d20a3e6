"""Appends for the store's tests: one event per call, its id given or fresh."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from events.model import ExpectedVersion, NewEvent, StreamAppend

T0 = datetime(2026, 2, 5, 15, 4, 5, 123456, tzinfo=UTC)


def one(
    stream_id: str, expected: ExpectedVersion, event_id: uuid.UUID | None = None
) -> StreamAppend:
    """One event (`Noted`, at `T0`) appended to `stream_id` at `expected`."""
    event = NewEvent(stream_id, "Noted", {"n": 1}, T0, event_id=event_id or uuid.uuid4())
    return StreamAppend(stream_id, expected, [event])
