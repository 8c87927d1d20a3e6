"""The derived-status rule is written once (`projections.request.derived_status`); its SQL
form (`projections.tables.status_is`, for filtering lists in the database) must select
exactly the rows the rule gives that status, on both backends. Checked on every
combination of the columns the rule reads, with times and dates on either side of `at`
(and equal to it) and a zone in which `at` is already the next day."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from events.store import EventStore
from projections.request import PENDING_STATUSES, STATUSES, Status, derived_status
from projections.tables import request_state, status_at, status_is

#: 23:30 UTC: already 08:30 the next day in Tokyo. Microseconds, so that the
#: comparisons of stored times are tested at their finest.
AT = datetime(2026, 3, 10, 23, 30, 0, 250_000, tzinfo=UTC)
EARLIER = AT - timedelta(days=20)
TICK = timedelta(microseconds=1)
ZONES: tuple[tzinfo, ...] = (UTC, ZoneInfo("Asia/Tokyo"))

FACTS = {
    "withdrawn_at": (None, EARLIER),
    "refused_at": (None, EARLIER),
    "approved_at": (None, EARLIER),
    "valid_until": (None, date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)),
    "circulated_at": (None, EARLIER),
    "deadline": (None, AT - TICK, AT, AT + TICK),
    "active_holds": (0, 2),
}


def combinations() -> Iterator[dict[str, Any]]:
    names = list(FACTS)
    for values in itertools.product(*(FACTS[name] for name in names)):
        yield dict(zip(names, values, strict=True))


def rule(facts: dict[str, Any], tz: tzinfo) -> Status:
    return derived_status(SimpleNamespace(**facts), AT, tz)


def row(n: int, facts: dict[str, Any]) -> dict[str, Any]:
    request_id = f"HX-2026-{n:04d}"
    return {
        "request_id": request_id,
        "stream_id": f"request-{request_id}",
        "stream_version": 1,
        "position": n + 1,
        "submitted_at": EARLIER,
        "last_occurred_at": EARLIER,
        "applicant_name": "Relief",
        "applicant_kind": "ngo",
        "channel": "direct",
        "sponsor": None,
        "title": "Water pumps",
        "urgent": False,
        "disclosure": "confidential",
        "status_hint": "submitted",
        "open_procedure": None,
        "held_by": None,
        "information_pending": False,
        "decided_at": None,
        "outcome": None,
        "valid_from": None,
        "document": {},
        **facts,
    }


@pytest.fixture
async def rows(store: EventStore) -> dict[str, dict[str, Any]]:
    """Every combination as a `request_state` row, by request id."""
    made = {f"HX-2026-{n:04d}": facts for n, facts in enumerate(combinations())}
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(request_state), [row(n, facts) for n, facts in enumerate(made.values())]
        )
    return made


@pytest.mark.parametrize("tz", ZONES, ids=str)
async def test_sql_form_selects_what_the_rule_says(
    store: EventStore, rows: dict[str, dict[str, Any]], tz: tzinfo
) -> None:
    expected = {request_id: rule(facts, tz) for request_id, facts in rows.items()}
    assert set(expected.values()) == set(STATUSES)  # every status is reached
    async with store.engine.connect() as conn:
        for status in (*STATUSES, "pending"):
            found = (
                await conn.execute(
                    select(request_state.c.request_id).where(status_is(status, AT, tz))
                )
            ).scalars()
            wanted = PENDING_STATUSES if status == "pending" else {status}
            assert set(found) == {rid for rid, got in expected.items() if got in wanted}, status


async def test_rows_read_back_give_the_rule(store: EventStore, rows: dict[str, Any]) -> None:
    """`status_at` of a stored row is the rule of the facts written (the columns come
    back as the rule reads them on both backends)."""
    async with store.engine.connect() as conn:
        stored = (await conn.execute(select(request_state))).all()
    assert len(stored) == len(rows)
    for tz in ZONES:
        for found in stored:
            assert status_at(found, AT, tz) == rule(rows[found.request_id], tz)


def test_status_lists() -> None:
    assert len(STATUSES) == len(set(STATUSES)) == 8
    assert set(STATUSES) > PENDING_STATUSES
    with pytest.raises(ValueError, match="unknown status"):
        status_is("approved", AT)
