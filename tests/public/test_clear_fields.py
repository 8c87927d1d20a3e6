"""Every public output is a function of the clear fields of §7.1 (one table, two uses).

Random request histories are folded twice: as they are, and with every sealed value of
every event (per `events.disclosure.split`) replaced by another value of the same shape
(text changed, times moved, flags flipped, numbers bumped; the same value always becomes
the same other value, so holds still pair with their releases). If any public record,
statistic, feed, CSV or page read a sealed field, the two sets of outputs would differ.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings

from events.disclosure import disclosed_form, split
from events.types import EVENT_TYPES
from projections.public import public_request, public_statistics
from projections.request import fold, view
from tests.public.scenario import Event
from tests.public.test_leaks import NOW, Built, _public_outputs, histories

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


def _other(value: Any) -> Any:
    """A different value of the same shape, the same for equal inputs."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        if _TIME.match(value):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (moment + timedelta(days=3, hours=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if _DATE.match(value):
            return (datetime.fromisoformat(value) + timedelta(days=3)).date().isoformat()
        return f"~{value}~"
    if isinstance(value, list):
        return [_other(item) for item in value]
    if isinstance(value, dict):
        return {key: _other(item) for key, item in value.items()}
    return value


def _reseal(events: list[Event]) -> list[Event]:
    out = []
    for event in events:
        clear, sealed = split(event.event_type, EVENT_TYPES[event.event_type][1], event.data)
        data = {**clear, **{name: _other(value) for name, value in sealed.items()}}
        out.append(dataclasses.replace(event, data=data))
    return out


def _views(built: list[Built], change: bool) -> list[dict[str, Any]]:
    views = []
    for b in built:
        state = fold(_reseal(b.events) if change else b.events)
        assert state is not None
        views.append(view(state, NOW))
    return views


def _bodies(outputs: dict[str, str]) -> dict[str, str]:
    # The `date` header is the clock of the answer, not a fact of the log.
    return {
        path: "\n".join(line for line in text.split("\n") if not line.startswith("date: "))
        for path, text in outputs.items()
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_no_public_output_reads_a_sealed_field(built: list[Built]) -> None:
    assert any(_reseal(b.events) != b.events for b in built)  # something sealed did change
    as_logged, resealed = _views(built, change=False), _views(built, change=True)
    for before, after in zip(as_logged, resealed, strict=True):
        assert public_request(before, NOW) == public_request(after, NOW)
    assert public_statistics(as_logged, NOW) == public_statistics(resealed, NOW)
    assert _bodies(asyncio.run(_public_outputs(as_logged))) == _bodies(
        asyncio.run(_public_outputs(resealed))
    )


@settings(max_examples=100, deadline=None)
@given(histories())
def test_no_disclosed_form_holds_what_section_7_keeps_private(built: list[Built]) -> None:
    """What a receipt shows of an event never holds a note, reason, justification,
    question, response, member code or actor: the generator of these histories knows
    §7's list independently of the §7.1 table."""
    for b in built:
        private = b.never | b.member_codes
        private |= {
            e.data[name]
            for e in b.events
            for name in ("purpose", "beneficiaries", "questions", "response")
            if name in e.data
        }
        for event in b.events:
            whole = {
                "position": event.position,
                "event_id": "00000000-0000-4000-8000-000000000000",
                "stream_id": "request-X",
                "stream_version": event.stream_version,
                "event_type": event.event_type,
                "schema_version": EVENT_TYPES[event.event_type][1],
                "occurred_at": "2026-01-01T00:00:00.000000Z",
                "recorded_at": "2026-01-01T00:00:00.000000Z",
                "data": event.data,
                "metadata": {"actor": {"id": "QZZ-ACTOR-TOKEN", "name": "ACTOR NAME"}},
                "salt": "00" * 32,
            }
            shown = orjson.dumps(disclosed_form(whole)).decode()
            for value in private | {"QZZ-ACTOR-TOKEN", "ACTOR NAME"}:
                assert value not in shown, (event.event_type, value)


def test_the_check_sees_a_page_that_reads_a_sealed_field() -> None:
    """A deadline is sealed: an output that showed it would differ after resealing."""
    event = Event(1, 1, "RequestCirculated", {"procedure": "initial", "deadline": _T}, NOW)
    (changed,) = _reseal([event])
    assert changed.data["procedure"] == "initial"
    assert changed.data["deadline"] != _T


_T = "2026-02-05T15:04:05.123456Z"
