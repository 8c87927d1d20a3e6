"""Public statistics once a day (SPEC §7), through the app on both backends, its clock
fixed and moved by hand (never the day the suite runs on).

`/public/stats` and `/stats` are the same bytes, ETag and Last-Modified through every
second of a day, across a confidential submission made that day and a checkpoint signed
after it; the next day they show it, with every other event of its day, once a checkpoint
signed that day covers it. A day that has not ended, or one before 2000, is refused; a
projection behind the log answers a 503 that names no position.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.api import time_travel
from tests.api.conftest import PROBLEM, Api, Clock, open_api, submission

#: The day before the day under test, at 10:00 UTC: a day of the test's own.
DAY_ONE = datetime(2030, 6, 13, 10, 0, tzinfo=UTC)
AGGREGATES = ("/public/stats", "/stats")
Snapshot = dict[str, tuple[int, bytes, str, str]]


def _midnight(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


@pytest.fixture
async def clock() -> Clock:
    return Clock(DAY_ONE)


@pytest.fixture
async def api(database_url: str, tmp_path: Path, clock: Clock) -> AsyncIterator[Api]:
    # no checkpoint of the writer's own: the test signs them, at the times it chooses
    async for opened in open_api(
        database_url,
        tmp_path,
        clock=clock,
        checkpoint_interval_seconds=10**7,
        checkpoint_interval_events=10**9,
    ):
        yield opened


async def _submit(api: Api, disclosure: str = "confidential") -> str:
    """A request submitted now (the app's clock)."""
    answer = await api.ok("/v1/requests", submission(disclosure=disclosure))
    return str(answer["request_id"])


async def _sign(api: Api) -> int:
    runtime = api.app.state.runtime
    signed = await runtime.tree.sign_checkpoint(runtime.signer, runtime.settings.log_origin)
    assert signed is not None
    assert signed.created_at == runtime.clock()
    return int(signed.tree_size)


async def _snapshot(api: Api) -> Snapshot:
    await api.app.state.runtime.runner.catch_up()
    out = {}
    for path in AGGREGATES:
        r = await api.get(path, None)
        assert r.status_code == 200, (path, r.text)
        out[path] = (r.status_code, r.content, r.headers["etag"], r.headers["last-modified"])
    return out


async def _stats(api: Api) -> dict[str, Any]:
    answer = await api.get("/public/stats", None)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


async def test_the_statistics_move_once_a_day_and_never_on_a_confidential_submission(
    api: Api, clock: Clock
) -> None:
    await _submit(api)
    await _submit(api, "public")
    first = await _sign(api)  # signed on day one, covering both

    day_two = _midnight(DAY_ONE) + timedelta(days=1)
    clock.set(day_two)
    start = await _snapshot(api)
    stats = await _stats(api)
    assert stats["total"] == 2 and stats["by_status"]["submitted"] == 2
    assert stats["as_of"] == "2030-06-13" and stats["at_position"] == first
    assert "T" not in stats["as_of"]  # a day, not a time

    # every second of day two, a confidential submission at noon and a checkpoint
    # covering it: nothing moves
    for seconds in (0, 1, 59, 3_600, 43_199):
        clock.set(day_two + timedelta(seconds=seconds))
        assert await _snapshot(api) == start, seconds
    clock.set(day_two + timedelta(hours=12))
    await _submit(api)
    assert await _snapshot(api) == start
    clock.advance(seconds=30)
    covering = await _sign(api)
    assert covering > first
    for moment in (
        day_two + timedelta(hours=12, seconds=31),
        day_two + timedelta(hours=23, minutes=59, seconds=59),
        day_two + timedelta(days=1, microseconds=-1),
    ):
        clock.set(moment)
        assert await _snapshot(api) == start, moment
    # a later checkpoint may not be asked for on the day it was signed
    early = await api.get("/public/stats", None, params={"at_position": covering})
    assert early.status_code == 422, early.text
    assert early.json()["rule"] == "public-position-is-a-checkpoint"

    # day three: the submission shows, with the rest of day two
    clock.set(day_two + timedelta(days=1))
    after = await _snapshot(api)
    for path in AGGREGATES:
        assert after[path][1] != start[path][1], path
        assert after[path][2] != start[path][2], path
        assert after[path][3] != start[path][3], path
    stats = await _stats(api)
    assert stats["total"] == 3 and stats["by_status"]["submitted"] == 3
    assert stats["as_of"] == "2030-06-14" and stats["at_position"] == covering
    older = await api.get("/public/stats", None, params={"at_position": first})
    assert older.status_code == 200 and older.json()["total"] == 2


async def test_a_submission_shows_only_once_a_checkpoint_of_its_day_covers_it(
    api: Api, clock: Clock
) -> None:
    await _submit(api)
    await _sign(api)
    clock.advance(hours=1)
    await _submit(api)  # day one, but no checkpoint signed on day one covers it
    clock.set(_midnight(DAY_ONE) + timedelta(days=1, hours=6))
    assert (await _stats(api))["total"] == 1
    await _sign(api)  # on day two: it counts from day three, not before
    assert (await _stats(api))["total"] == 1
    clock.advance(days=1)
    stats = await _stats(api)
    assert stats["total"] == 2 and stats["as_of"] == "2030-06-14"
    # as of the end of day one (the log up to the same checkpoint): both occurred then
    day_one = await api.get("/public/stats", None, params={"as_of": "2030-06-13"})
    assert day_one.json()["total"] == 2 and day_one.json()["as_of"] == "2030-06-13"
    assert (await api.get("/public/stats", None, params={"as_of": "2030-06-12"})).json()[
        "total"
    ] == 0


async def test_a_day_not_over_or_before_2000_is_refused(api: Api, clock: Clock) -> None:
    await _submit(api)
    clock.set(datetime(2030, 6, 14, 10, 0, tzinfo=UTC))
    for day in ("2030-06-14", "2030-06-15", "5000-01-01", "9998-12-31", "1999-12-31"):
        answer = await api.get("/public/stats", None, params={"as_of": day})
        assert answer.status_code == 422, (day, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["rule"] == "as-of-within-bounds", answer.json()
        page = await api.get("/stats", None, params={"as_of": day})
        assert page.status_code == 400, (day, page.status_code)
        assert page.headers["content-type"].startswith("text/html")
        assert "No statistics for that day" in page.text
        assert len(page.content) < 10_000  # not 4.47 MB of empty months
    for bad in ("2030-02-30", "yesterday", "2030-06-13T23:59:59Z", "9" * 5000):
        page = await api.get("/stats", None, params={"as_of": bad})
        assert page.status_code == 400, (bad, page.status_code)
        assert (await api.get("/public/stats", None, params={"as_of": bad})).status_code == 422
    assert (await api.get("/public/stats", None, params={"as_of": "2030-06-13"})).status_code == 200
    page = await api.get("/stats", None, params={"as_of": "2000-01-01"})
    assert page.status_code == 200 and 'max="2030-06-13"' in page.text


async def test_a_projection_behind_answers_a_503_that_names_no_position(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _submit(api)
    await _sign(api)
    clock.advance(days=1)
    runner = api.app.state.runtime.runner

    async def behind() -> dict[str, int]:
        return {}

    monkeypatch.setattr(runner, "checkpoints", behind)
    monkeypatch.setattr(time_travel, "CATCH_UP_SECONDS", 0.05)
    for path in AGGREGATES:
        answer = await api.get(path, None)
        assert answer.status_code == 503, (path, answer.text)
        assert answer.headers["retry-after"] == "1"
        assert not any(ch.isdigit() for ch in answer.json()["detail"]), answer.text
        assert not any("position" in name.lower() for name in answer.headers), answer.headers
