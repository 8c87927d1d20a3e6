"""Server-assigned request ids (R11): unique and gap-free per year however many
appends ask at once (two stores on one database, as two processes), passing over ids
already in the log, taking no number for a refused call or a retry, backfilled for old logs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from events.errors import NumberingExhausted
from events.model import NewEvent, RecordedEvent, StreamAppend
from events.request_ids import (
    SLACK,
    NumberedRequest,
    candidate_streams,
    candidates,
    format_request_id,
    parse_request_id,
    take_number,
)
from events.store import EventStore
from service.platform.db import alembic_config, create_engine
from service.rules.request_rules import request_id_for
from tests.conftest import run_outside_loop
from tests.events.v1_log import insert_v1_submissions

YEAR = 2026
TRANSACTIONS = 200

# -- the pure part ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [(1, "HX-2026-0001"), (200, "HX-2026-0200"), (9999, "HX-2026-9999"),
     (10000, "HX-2026-10000")],
)  # fmt: skip
def test_the_id_format(sequence: int, expected: str) -> None:
    assert format_request_id(YEAR, sequence) == expected
    assert parse_request_id(expected) == (YEAR, sequence)
    at = datetime(YEAR, 6, 1, tzinfo=UTC)
    assert request_id_for(at, sequence) == expected  # the rules' spelling agrees


@pytest.mark.parametrize("other", ["HX-26-0001", "hx-2026-0001", "HX-2026-", "X-2026-1"])
def test_ids_not_of_the_servers_form_parse_to_none(other: str) -> None:
    assert parse_request_id(other) is None


def test_sequences_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        format_request_id(YEAR, 0)


def test_take_number_passes_over_taken_streams() -> None:
    taken = {"request-HX-2026-0002", "request-HX-2026-0003"}
    assert take_number(YEAR, 1, 10, taken.__contains__) == ("HX-2026-0004", 4)
    assert take_number(YEAR, 1, 3, taken.__contains__) == (None, 3)


def test_the_lookup_covers_the_batch_and_its_slack() -> None:
    limits = candidates({2026: 2, 2025: 1}, {2026: 5})
    assert limits == {2026: 7 + SLACK, 2025: 1 + SLACK}
    streams = candidate_streams(limits, {2026: 5})
    assert streams[0] == "request-HX-2026-0006" and len(streams) == 2 + SLACK + 1 + SLACK


# -- both backends ------------------------------------------------------------------------


def numbered(
    year: int = YEAR, *, refuse: bool = False, event_id: uuid.UUID | None = None
) -> NumberedRequest:
    """A submission to be numbered: one `RequestSubmitted` carrying its id."""
    ids = [event_id or uuid.uuid4()]

    def build(request_id: str) -> list[NewEvent]:
        if refuse:
            raise ValueError("refused by its rules")
        stream = f"request-{request_id}"
        data = {"request_id": request_id}
        at = datetime(year, 3, 1, tzinfo=UTC)
        return [NewEvent(stream, "RequestSubmitted", data, at, event_id=ids[0])]

    return NumberedRequest(year, ids, build)


def ids_of(recorded: Sequence[Sequence[RecordedEvent]]) -> list[str]:
    return sorted(r[0].data["request_id"] for r in recorded)


async def two_stores(url: str, use: Callable[[list[EventStore]], Awaitable[None]]) -> None:
    stores = [await EventStore.open(url) for _ in range(2)]
    try:
        await use(stores)
    finally:
        for store in stores:
            await store.close()


async def test_200_concurrent_submissions_get_0001_to_0200(database_url: str) -> None:
    got: list[list[RecordedEvent]] = []

    async def race(stores: list[EventStore]) -> None:
        got.extend(
            await asyncio.gather(
                *(stores[k % 2].append_numbered(numbered()) for k in range(TRANSACTIONS))
            )
        )

    await two_stores(database_url, race)
    assert ids_of(got) == [format_request_id(YEAR, n) for n in range(1, TRANSACTIONS + 1)]


async def test_a_refused_call_takes_no_number(database_url: str) -> None:
    kept: list[list[RecordedEvent]] = []

    async def race(stores: list[EventStore]) -> None:
        async def one(k: int) -> None:
            try:
                kept.append(await stores[k % 2].append_numbered(numbered(refuse=k % 10 == 0)))
            except ValueError:
                assert k % 10 == 0

        await asyncio.gather(*(one(k) for k in range(TRANSACTIONS)))

    await two_stores(database_url, race)
    count = TRANSACTIONS - TRANSACTIONS // 10
    assert ids_of(kept) == [format_request_id(YEAR, n) for n in range(1, count + 1)]


async def test_a_retry_with_the_same_events_takes_no_number(store: EventStore) -> None:
    event_id = uuid.uuid4()
    first, again = await asyncio.gather(
        store.append_numbered(numbered(event_id=event_id)),
        store.append_numbered(numbered(event_id=event_id)),
    )
    assert first == again
    later = await store.append_numbered(numbered(event_id=event_id))
    assert later == first
    (after,) = await store.append_numbered(numbered())
    assert after.data["request_id"] == "HX-2026-0002"


async def _submitted(url: str, *request_ids: str) -> None:
    async with await EventStore.open(url) as store:
        for request_id in request_ids:
            stream = f"request-{request_id}"
            event = NewEvent(
                stream, "RequestSubmitted", {"request_id": request_id}, datetime.now(UTC)
            )
            await store.append(StreamAppend(stream, "no_stream", [event]))


async def _one_by_one(url: str, count: int, year: int = YEAR) -> list[str]:
    async with await EventStore.open(url) as store:
        return [
            (await store.append_numbered(numbered(year)))[0].data["request_id"]
            for _ in range(count)
        ]


async def test_ids_already_in_the_log_are_passed_over(database_url: str) -> None:
    await _submitted(database_url, "HX-2026-0002", "HX-2026-0003")
    assert await _one_by_one(database_url, 3) == ["HX-2026-0001", "HX-2026-0004", "HX-2026-0005"]


async def test_a_caller_id_in_the_same_batch_is_passed_over_or_conflicts(store: EventStore) -> None:
    stream = "request-HX-2026-0001"
    own = NewEvent(stream, "RequestSubmitted", {"request_id": "HX-2026-0001"}, datetime.now(UTC))
    outcomes = await asyncio.gather(
        store.append(StreamAppend(stream, "no_stream", [own])),
        store.append_numbered(numbered()),
        return_exceptions=True,
    )
    (mine,), (server,) = outcomes  # type: ignore[misc]
    assert mine.stream_id == stream and server.data["request_id"] == "HX-2026-0002"


async def test_a_long_run_of_caller_ids_is_passed_over_by_retrying(database_url: str) -> None:
    run = [format_request_id(YEAR, n) for n in range(1, SLACK + 4)]
    await _submitted(database_url, *run)
    async with await EventStore.open(database_url) as store:
        with pytest.raises(NumberingExhausted):
            await store.append_numbered(numbered())
        (got,) = await store.append_numbered(numbered())
    assert got.data["request_id"] == format_request_id(YEAR, SLACK + 4)


async def test_years_count_apart_and_widen_past_9999(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO request_sequences VALUES (2025, 9999)"))
    finally:
        await engine.dispose()
    assert await _one_by_one(database_url, 1) == ["HX-2026-0001"]
    assert await _one_by_one(database_url, 1, 2025) == ["HX-2025-10000"]


# -- the migration's backfill ----------------------------------------------------------


async def test_an_existing_log_is_backfilled(empty_database_url: str) -> None:
    url = empty_database_url
    run_outside_loop(command.upgrade, alembic_config(url), "0003_notify_events")
    ids = ("HX-2025-0007", "HX-2026-0002", "HX-2026-0010", "OWN-1", "HX-26-5")
    await insert_v1_submissions(url, *ids)
    # Not to head: 0006_event_salt refuses a log in canonical form v1 (test_event_salt.py).
    run_outside_loop(command.upgrade, alembic_config(url), "0005_request_intervals")

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT year, last FROM request_sequences"))
            assert dict(rows.tuples().all()) == {2025: 7, 2026: 10}
    finally:
        await engine.dispose()
    # The numbering past the backfilled year is not taken here: a v1 log cannot reach the
    # head (0006), and numbering from the sequence is the contract tests' (`_one_by_one`).
