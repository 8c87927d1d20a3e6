"""The wall-clock grid checkpoints are signed on (SPEC §4): pure, with no clock of its own.

Tick k is at k × interval seconds after the Unix epoch; slot k is the time from tick k up
to tick k + 1. A checkpoint is due when the log has grown by `every_events` since the
latest one (at once), or, if it grew at all, at a tick: only in the round a writer starts
at the tick it waited for, and only if nothing was signed in that tick's slot yet (by
another process, or by an operator's `docket checkpoint`). So a checkpoint's time says
that its newest events arrived before a tick, never how long before: an event appended
at 10:30 after a quiet spell is signed at 11:00 on an hourly grid, not a second later.

Times are counted in whole microseconds (a `datetime`'s own precision), so an interval
such as 0.2 s lays out the same grid on every machine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = [
    "EPOCH",
    "Trigger",
    "grid_due",
    "grid_slot",
    "last_tick",
    "next_awaited",
    "next_tick",
    "seconds_to_next_tick",
    "signing_due",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Trigger(StrEnum):
    """Why a checkpoint is signed: `every_events` new events, or a tick of the grid."""

    EVENTS = "events"
    TICK = "tick"


def _step(interval: float) -> int:
    step = round(interval * 1_000_000)
    if step < 1:
        raise ValueError(f"a grid interval of {interval} s is shorter than a microsecond")
    return step


def grid_slot(at: datetime, interval: float) -> int:
    """The slot `at` falls in: k when tick k <= `at` < tick k + 1 (`at` must be aware)."""
    return ((at - EPOCH) // _MICROSECOND) // _step(interval)


def _tick(slot: int, interval: float) -> datetime:
    return EPOCH + slot * _step(interval) * _MICROSECOND


def last_tick(now: datetime, interval: float) -> datetime:
    """The latest tick at or before `now`."""
    return _tick(grid_slot(now, interval), interval)


def next_tick(now: datetime, interval: float) -> datetime:
    """The first tick strictly after `now`."""
    return _tick(grid_slot(now, interval) + 1, interval)


def seconds_to_next_tick(now: datetime, interval: float) -> float:
    """Seconds from `now` to the next tick (more than 0, at most `interval`)."""
    return (next_tick(now, interval) - now).total_seconds()


def grid_due(now: datetime, awaited: datetime, interval: float, signed_at: datetime | None) -> bool:
    """Whether the grid asks for a checkpoint at `now`: the tick the writer waits for
    (`awaited`) has come, and the latest checkpoint (signed at `signed_at`, None if none)
    is older than the latest tick. Whether the log grew is the caller's to add."""
    return now >= awaited and (signed_at is None or signed_at < last_tick(now, interval))


def signing_due(
    *,
    now: datetime,
    awaited: datetime,
    interval: float,
    head: int,
    signed_size: int,
    signed_at: datetime | None,
    every_events: int,
) -> Trigger | None:
    """Whether a writer's round at `now` signs the log of `head` events, the latest
    checkpoint covering `signed_size` (signed at `signed_at`), and why; None if not."""
    if head - signed_size >= every_events:
        return Trigger.EVENTS
    if head > signed_size and grid_due(now, awaited, interval, signed_at):
        return Trigger.TICK
    return None


def next_awaited(now: datetime, awaited: datetime, interval: float) -> datetime:
    """The tick a writer waits for after a round at `now`: the next one once `awaited`
    has come, else still `awaited`. A writer that misses ticks (a round that took long)
    signs for time at the latest of them, once, and then waits for the next."""
    return next_tick(now, interval) if now >= awaited else awaited
