"""Hold rows from placements, releases, lapses, closing decisions and retractions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.model import RecordedEvent
from projections.holds import Hold, evolve, fold

T0 = datetime(2025, 7, 1, tzinfo=UTC)


def recorded(position: int, event_type: str, **data: Any) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        event_id=uuid.uuid4(),
        stream_id="request-HX-2025-0007",
        stream_version=position,
        event_type=event_type,
        schema_version=1,
        data=data,
        metadata={},
        occurred_at=T0 + timedelta(days=position),
        recorded_at=T0 + timedelta(days=position),
        prev_hash="00" * 32,
        hash="11" * 32,
    )


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def placed(position: int, member: str, procedure: str = "initial") -> RecordedEvent:
    return recorded(position, "HoldPlaced", procedure=procedure, member=member)


def hold(position: int, member: str, end: Any = None, ended: int | None = None) -> Hold:
    return Hold(
        position=position,
        request_id="HX-2025-0007",
        procedure="initial",
        member=member,
        placed_at=day(position),
        ended_at=day(ended) if ended is not None else None,
        end=end,
    )


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], ()),
        ([placed(2, "USA")], (hold(2, "USA"),)),
        (
            [placed(2, "USA"), recorded(5, "HoldReleased", procedure="initial", member="USA")],
            (hold(2, "USA", "released", 5),),
        ),
        (
            [
                placed(2, "USA"),
                placed(3, "DEU"),
                recorded(9, "HoldLapsed", procedure="initial", member="DEU", cause="x"),
            ],
            (hold(2, "USA"), hold(3, "DEU", "lapsed", 9)),
        ),
        (
            # a release by another member, or on another procedure, ends nothing
            [
                placed(2, "USA"),
                recorded(3, "HoldReleased", procedure="initial", member="RUS"),
                recorded(4, "HoldReleased", procedure="extension-1", member="USA"),
            ],
            (hold(2, "USA"),),
        ),
        (
            # a member may hold again after releasing
            [
                placed(2, "USA"),
                recorded(3, "HoldReleased", procedure="initial", member="USA"),
                placed(4, "USA"),
            ],
            (hold(2, "USA", "released", 3), hold(4, "USA")),
        ),
        (
            [
                placed(2, "USA"),
                placed(3, "CHN"),
                recorded(6, "ExemptionRefused", procedure="initial"),
            ],
            (hold(2, "USA", "closed", 6), hold(3, "CHN", "closed", 6)),
        ),
        (
            [placed(2, "USA"), recorded(6, "RequestWithdrawn")],
            (hold(2, "USA", "closed", 6),),
        ),
        (
            [placed(2, "USA"), recorded(3, "EventRetracted", target_position=2, reason="r")],
            (),
        ),
        (
            [
                placed(2, "USA"),
                recorded(3, "HoldReleased", procedure="initial", member="USA"),
                recorded(4, "EventRetracted", target_position=3, reason="wrong member"),
            ],
            (hold(2, "USA"),),
        ),
        (
            [
                placed(2, "USA"),
                recorded(3, "EventRetracted", target_position=2, reason="r"),
                recorded(4, "EventRetracted", target_position=3, reason="r"),
            ],
            (hold(2, "USA"),),
        ),
    ],
)
def test_fold(events: list[RecordedEvent], expected: tuple[Hold, ...]) -> None:
    assert fold(events) == expected


def test_evolve_returns_the_same_tuple_for_other_events() -> None:
    holds = (hold(2, "USA"),)
    assert evolve(holds, recorded(3, "ReviewStepRecorded", procedure="initial")) is holds
    assert evolve(holds, recorded(3, "ExemptionRefused", procedure="extension-1")) == holds


@pytest.mark.parametrize(
    ("row", "now", "days"),
    [
        (hold(2, "USA", "released", 5), None, 3.0),
        (hold(2, "USA"), day(12), 10.0),
        (hold(2, "USA"), None, None),
        (hold(2, "USA"), day(1), 0.0),
    ],
)
def test_duration_days(row: Hold, now: datetime | None, days: float | None) -> None:
    assert row.duration_days(now) == days
