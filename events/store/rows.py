"""Rows of the `events` table as the backends read them, and their conversions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from events.model import RecordedEvent, parse_utc

#: A raw row of the log: position, event_id, stream_id, stream_version, event_type,
#: schema_version, data (JSON text, whole: the clear fields of `events` and the sealed
#: ones of `sealed_values`), metadata (JSON text), occurred_at, recorded_at, prev_hash,
#: hash, salt (None: erased), sealed (the kept digest). Times are aware datetimes, or
#: canonical UTC text when the backend's `raw_times_as_text` says so. A driver record or
#: a tuple: index it, do not compare it.
RawRow = Any

#: What a fold reads of a row of the log (a rebuild's partition pages): position,
#: stream_id, stream_version, event_type, schema_version, data (JSON text, whole), None
#: for the metadata, occurred_at (an aware datetime), None for recorded_at. No fold reads
#: the metadata or when an event was recorded: sending them cost a worker a fifth of
#: its page's decoding and the server an eighth of the read. A driver record.
FoldRow = Any

#: A row of a chain walk: `RawRow` (position at 0, prev_hash at 10, hash at 11, salt at
#: 12, sealed at 13) and `erased_by` at 14 (None unless erased; a row whose sealed values
#: are missing has metadata, salt and erased_by None), and on the database backends `data`
#: at 6 the clear fields only and the sealed ones at 15. The backend's `hashed_form(row)` is
#: the canonical form `c(e)` of its hashed fields.
ChainRow = Any

#: A row an import copies in (`Backend.copy_in`): the `events` columns (position,
#: event_id, stream_id, stream_version, event_type, schema_version, clear data text,
#: occurred_at, recorded_at, prev_hash, hash, sealed), then the `sealed_values` ones
#: (sealed data text, metadata text, salt, erased_by). Times as `raw_times_as_text` says.
ImportRow = tuple[Any, ...]

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def event_id_text(text: str) -> str:
    """`str(uuid.UUID(text))`, without the parse when `text` is already that."""
    if _CANONICAL_UUID.fullmatch(text):
        return text
    return str(uuid.UUID(text))


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # raw rows with times as text
        return parse_utc(value)
    moment: datetime = value
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def row_event(row: RawRow) -> RecordedEvent:
    """The `RecordedEvent` of a `RawRow`, as stored: no upcasting."""
    return RecordedEvent(
        position=row[0],
        event_id=uuid.UUID(row[1]),
        stream_id=row[2],
        stream_version=row[3],
        event_type=row[4],
        schema_version=row[5],
        data=orjson.loads(row[6]),
        metadata=orjson.loads(row[7]),
        occurred_at=_utc(row[8]),
        recorded_at=_utc(row[9]),
        prev_hash=row[10],
        hash=row[11],
        salt=row[12] or "",
        sealed=row[13],
    )
