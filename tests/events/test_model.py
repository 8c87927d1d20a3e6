"""One spelling of the event's fields: the table, the canonical form and the wire form."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from events.model import EVENT_COLUMNS, HASHED_FIELDS, RecordedEvent
from events.schema import events, sealed_values


def test_the_tables_columns_are_the_event_columns() -> None:
    """`events` holds the envelope, the clear data and the kept digest; `sealed_values`
    the rest (SPEC §4 "Erasure"): together, every column of the wire form."""
    in_events = [column.name for column in events.columns]
    apart = [c.name for c in sealed_values.columns if c.name not in ("position", "data")]
    assert set(in_events) | set(apart) == set(EVENT_COLUMNS) | {"erased_by"}
    assert "metadata" not in in_events and "salt" not in in_events


def test_hashed_fields_and_wire_form_use_the_same_names_in_order() -> None:
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    event = RecordedEvent(
        1, uuid.UUID(int=1), "committee", 1, "MemberSeated", 1, {}, {}, moment, moment, "0", "1"
    )
    assert tuple(event.hashed_fields()) == HASHED_FIELDS
    assert tuple(event.wire()) == EVENT_COLUMNS
