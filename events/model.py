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
    #: 64 lowercase hex characters (32 random bytes): the seal of the sealed fields (SPEC
    #: §4). Empty on events made outside the store (tests of pure folds), and on events
    #: whose sealed values were erased (then `sealed` is what the leaf commits to).
    salt: str = ""
    #: The kept `sealed` digest of SPEC §4 (hex), as the store holds it beside the clear
    #: fields; empty where unknown (a new event, a line of an old export). With a salt it
    #: must equal the digest of the sealed values; without one it stands for them.
    sealed: str = ""

    @property
    def erased(self) -> bool:
        """Whether this event's sealed values were erased (SPEC §4 "Erasure")."""
        return not self.salt and bool(self.sealed)

    def hashed_fields(self) -> JSON:
        """The event whole, as canonical form v2 is computed from it (SPEC §4): its
        envelope with `data`, `metadata` and `salt` (`events.disclosure.canonical_v2`)."""
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
            "salt": self.salt,
            "sealed": self.sealed,
        }

    def wire(self) -> JSON:
        """The event whole as `/v1/events` and exports give it (all of `data`, `metadata`
        and `salt`) with its hashes: what an auditor recomputes every hash from."""
        body = self.hashed_fields()
        del body["salt"], body["sealed"]  # in `EVENT_COLUMNS` order: after the hashes
        body["prev_hash"] = self.prev_hash
        body["hash"] = self.hash
        # an erased event has no salt any more: null, and its kept digest stands for it
        body["salt"] = self.salt or None
        body["sealed"] = self.sealed
        return body


ZERO_HASH = "00" * 32

#: The fields `c(e)` is computed from (SPEC §4, canonical form v2), in `hashed_fields()`
#: order: the envelope, `data` and `metadata` whole, and the `salt`.
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
    "salt",
    "sealed",
)
#: The columns of a `RawRow` (prev_hash at 10, hash at 11, salt at 12, sealed at 13), and
#: the keys of an event's wire form. `data` whole, `metadata` and `salt` are read from
#: `sealed_values` beside `events` (SPEC §4 "Erasure"): see `events.schema`.
EVENT_COLUMNS = (*HASHED_FIELDS[:-2], "prev_hash", "hash", "salt", "sealed")
#: The canonical form an event is hashed in; logs and exports of an older form are refused.
CANONICAL_FORM = 2
