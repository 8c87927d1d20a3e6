"""One spelling of the event's fields: the table, the canonical form and the wire form."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from events.model import EVENT_COLUMNS, HASHED_FIELDS, RecordedEvent
from events.schema import events


def test_the_table_columns_are_the_event_columns() -> None:
    assert tuple(column.name for column in events.columns) == EVENT_COLUMNS


def test_hashed_fields_and_wire_form_use_the_same_names_in_order() -> None:
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    event = RecordedEvent(
        1, uuid.UUID(int=1), "committee", 1, "MemberSeated", 1, {}, {}, moment, moment, "0", "1"
    )
    assert tuple(event.hashed_fields()) == HASHED_FIELDS
    assert tuple(event.wire()) == EVENT_COLUMNS
