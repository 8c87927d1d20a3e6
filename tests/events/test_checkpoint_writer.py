"""The checkpoint writer on the wall-clock grid (SPEC §4), on both backends, by a clock the
test moves: a new event is signed at the next tick and not before, `every_events` signs
at once, two processes' writers sign once per tick, and checkpoints carry the clock's time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoint_grid import Trigger, next_tick
from events.checkpoints import Signer
from events.log_tree import CheckpointWriter, LogTree
from events.model import NewEvent, StreamAppend
from events.store import EventStore

ORIGIN = "docket.test/log"
HOUR = 3600.0
#: The writer's clock starts at 10:30 of a fixed day: no test here reads the real one.
START = datetime(2029, 2, 28, 10, 30, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def to(self, when: datetime) -> None:
        assert when >= self.now
        self.now = when


async def append(store: EventStore, clock: Clock, count: int = 1) -> int:
    """`count` events at the clock's time; the log's head."""
    for _ in range(count):
        event = NewEvent("request-HX-2029-0001", "RequestAnnotated", {"note": "n"}, clock())
        await store.append(StreamAppend(event.stream_id, "any", [event]))
    head, _ = await store.head()
    return head


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


def writer(
    store: EventStore, signer: Signer, clock: Clock, every_events: int = 1000
) -> CheckpointWriter:
    return CheckpointWriter(LogTree(store), signer, ORIGIN, every_events, HOUR, clock=clock)


async def test_a_new_event_is_signed_at_the_next_tick_and_not_before(
    store: EventStore, signer: Signer
) -> None:
    clock = Clock(START - timedelta(hours=1, minutes=30))  # 09:00, a tick
    first = writer(store, signer, clock)
    assert await first.run_once() is None  # started: it waits for 10:00
    await append(store, clock, 3)
    clock.to(START.replace(minute=0))  # 10:00
    assert await first.run_once() is Trigger.TICK
    latest = await first.tree.latest_checkpoint()
    assert latest is not None and (latest.tree_size, latest.created_at) == (3, clock())

    # A quiet spell, then an event at 10:30: a tick (10:00) passed since the last
    # checkpoint, but the next one is at 11:00.
    clock.to(START)
    head = await append(store, clock)
    for moment in (START, START + timedelta(seconds=1), START + timedelta(minutes=29, seconds=59)):
        clock.to(moment)
        assert await first.run_once() is None
        assert (await first.tree.latest_checkpoint()) == latest
    clock.to(next_tick(START, HOUR))
    assert await first.run_once() is Trigger.TICK
    signed = await first.tree.latest_checkpoint()
    assert signed is not None
    assert (signed.tree_size, signed.created_at) == (head, START.replace(hour=11, minute=0))
    # nothing new at the next tick: nothing signed
    clock.to(START.replace(hour=12, minute=0))
    assert await first.run_once() is None


async def test_a_writer_that_starts_waits_for_a_tick(store: EventStore, signer: Signer) -> None:
    clock = Clock(START)
    await append(store, clock, 2)
    started = writer(store, signer, clock)
    assert await started.run_once() is None  # not on starting, with events unsigned
    assert await started.tree.latest_checkpoint() is None
    clock.to(START + timedelta(minutes=30))
    assert await started.run_once() is Trigger.TICK


async def test_every_events_new_events_are_signed_at_once(
    store: EventStore, signer: Signer
) -> None:
    clock = Clock(START)
    counting = writer(store, signer, clock, every_events=5)
    await append(store, clock, 4)
    assert await counting.run_once() is None
    head = await append(store, clock)
    assert await counting.run_once() is Trigger.EVENTS  # at 10:30, between ticks
    latest = await counting.tree.latest_checkpoint()
    assert latest is not None and (latest.tree_size, latest.created_at) == (head, START)


async def test_two_processes_sign_once_per_tick(store: EventStore, signer: Signer) -> None:
    clock = Clock(START)
    one, two = writer(store, signer, clock), writer(store, signer, clock)
    assert await one.run_once() is None and await two.run_once() is None
    await append(store, clock, 2)
    clock.to(START.replace(hour=11, minute=0))
    assert await one.run_once() is Trigger.TICK
    # an event just after the tick, and the other process's round for the same tick:
    # no second checkpoint in the slot (it would tell the event came after 11:00:00)
    clock.to(clock() + timedelta(milliseconds=300))
    head = await append(store, clock)
    assert await two.run_once() is None
    assert [c.tree_size for c in await one.tree.checkpoints()] == [2]
    clock.to(START.replace(hour=12, minute=0))
    assert await two.run_once() is Trigger.TICK
    assert await one.run_once() is None  # the same tick, signed by the other
    assert [c.tree_size for c in await one.tree.checkpoints()] == [2, head]


async def test_a_signing_decided_on_an_older_checkpoint_is_refused(
    store: EventStore, signer: Signer
) -> None:
    # Two writers decided on the same latest checkpoint (none); the second to take the
    # tree lock finds one signed since and signs nothing, though the log grew between.
    clock = Clock(START)
    tree = LogTree(store)
    await append(store, clock, 2)
    assert await tree.sign_checkpoint(signer, ORIGIN, clock=clock, expected_latest=0)
    await append(store, clock)
    assert await tree.sign_checkpoint(signer, ORIGIN, clock=clock, expected_latest=0) is None
    again = await tree.sign_checkpoint(signer, ORIGIN, clock=clock, expected_latest=2)
    assert again is not None and again.tree_size == 3
    assert [c.tree_size for c in await tree.checkpoints()] == [2, 3]
