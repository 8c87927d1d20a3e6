"""The service's background work on the checkpoint grid (SPEC §4), on each backend, with
the default settings (an hourly grid, 1,000 events): a new event reaches the published
checkpoint at the next tick and not before, even though it wakes the writer at once; the
event-count trigger still signs at once.

The runtime's clock runs at the real pace but is set a few seconds before a tick (a real
hour boundary), so the test waits seconds, not an hour, and reads no date of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from events.checkpoint_grid import next_tick
from service import bootstrap
from service.commands.outcome import Meta
from service.platform.settings import Settings
from service.platform.tokens import Caller
from service.queries.publication import Published, published_checkpoint
from service.rules import commands as cmd
from service.runtime import Runtime

HOUR = 3600.0
#: How long before the tick the test's clock starts: the append must land before it.
LEAD = timedelta(seconds=3)
META = Meta(caller=Caller("tok_test", "test", "secretariat"), correlation_id="test")


def _settings(database_url: str, tmp_path: Path, **more: object) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        signing_key_file=tmp_path / "signing.key",
        log_origin="docket.test/log",
        **more,  # type: ignore[arg-type]
    )


def _clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock at `start` now, running at the real pace."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


async def _seat(runtime: Runtime, member: str) -> int:
    seated = await runtime.commands.run(
        cmd.SeatMember(member=member, term_start="1945-10-24"), META
    )
    position: int = seated.body["position"]
    return position


async def _published_covering(runtime: Runtime, position: int, seconds: float) -> Published:
    deadline = time.monotonic() + seconds
    while True:
        published = await published_checkpoint(runtime)
        if published is not None and published.size >= position:
            return published
        assert time.monotonic() < deadline, f"no checkpoint covering {position} in {seconds} s"
        await asyncio.sleep(0.05)


async def test_a_new_event_is_published_at_the_next_tick_and_not_before(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path)
    assert settings.checkpoint_interval_seconds == HOUR  # the default grid, on the hour
    tick = next_tick(bootstrap.utc_now(), HOUR)
    async with bootstrap.build(settings) as built:
        runtime = dataclasses.replace(built, clock=_clock_from(tick - LEAD))
        async with bootstrap.workers(runtime):
            position = await _seat(runtime, "FRA")  # wakes the writer (the follower)
            assert runtime.clock() < tick, "the append took longer than the lead"
            looked = 0
            while True:
                published = await published_checkpoint(runtime)
                if runtime.clock() >= tick:  # this read may have begun before the tick
                    break
                assert published is None, (published, runtime.clock(), tick)
                looked += 1
                await asyncio.sleep(0.05)
            assert looked >= 5  # the published checkpoint was looked at before the tick
            published = await _published_covering(runtime, position, 30.0)
    assert published.size == position
    assert tick <= published.signed_at < tick + timedelta(seconds=30)


async def test_every_so_many_events_are_published_at_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path, checkpoint_interval_events=2)
    tick = next_tick(bootstrap.utc_now(), HOUR)
    async with bootstrap.build(settings) as built:
        # just after a tick: the next one is an hour away
        runtime = dataclasses.replace(built, clock=_clock_from(tick + timedelta(seconds=1)))
        async with bootstrap.workers(runtime):
            await _seat(runtime, "FRA")
            position = await _seat(runtime, "GBR")
            published = await _published_covering(runtime, position, 30.0)
    assert published.size == position
    assert published.signed_at < tick + timedelta(seconds=31)
