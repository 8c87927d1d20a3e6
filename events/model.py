"""The values the log is made of: events before and after they are recorded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from events.errors import ConcurrencyConflict as ConcurrencyConflict
from events.errors import StoreError as StoreError

JSON = dict[str, Any]

#: `any`, `no_stream`, `exists`, or the exact current version of the stream.
ExpectedVersion = int | Literal["any", "no_stream", "exists"]


def utc_text(moment: datetime) -> str:
    """A time as it appears in the canonical form: `2026-02-05T15:04:05.123456Z`."""
    if moment.tzinfo is None:
        raise ValueError("times in the log must be timezone-aware")
    # isoformat, not strftime: "%Y" does not pad years before 1000 to four digits.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_utc(text: str) -> datetime:
    """Parse an RFC 3339 time (with `Z` or an offset) into an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event a command wants written; the store gives it a position and a version."""

    stream_id: str
    event_type: str
    data: JSON
    occurred_at: datetime
    metadata: JSON = field(default_factory=dict)
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schema_version: int = 1


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """Events for one stream, written only if the stream is at `expected`."""

    stream_id: str
    expected: ExpectedVersion
    events: Sequence[NewEvent]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as the log holds it. `prev_hash` and `hash` are lowercase hex."""

    position: int
    event_id: uuid.UUID
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    data: JSON
    metadata: JSON
    occurred_at: datetime
    recorded_at: datetime
    prev_hash: str
    hash: str

    def hashed_fields(self) -> JSON:
        """The object whose RFC 8785 serialisation is the canonical form `c(e)`."""
        return {
            "position": self.position,
            "event_id": str(self.event_id),
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "data": self.data,
            "metadata": self.metadata,
            "occurred_at": utc_text(self.occurred_at),
            "recorded_at": utc_text(self.recorded_at),
        }

    def wire(self) -> JSON:
        """The event as `/v1/events` and exports give it: `c(e)` fields plus the hashes."""
        body = self.hashed_fields()
        body["prev_hash"] = self.prev_hash
        body["hash"] = self.hash
        return body


ZERO_HASH = "00" * 32

#: The fields of the canonical form `c(e)` (SPEC §4), in `hashed_fields()` order.
HASHED_FIELDS = (
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "occurred_at",
    "recorded_at",
)
#: The `events` table's columns, and the keys of an event's wire form, in that order.
EVENT_COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")
