"""The log follower: one reader fanning out to many subscribers, with bounded queues."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from events.follower import Dropped, LogFollower, PollingWaiter, Subscription

GUARD_S = 60  # a hung test fails instead of hanging; nothing here is timed


@dataclass(frozen=True)
class Event:
    position: int


class MemoryLog:
    """A log in memory, with the two callables a follower takes."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.reads = 0
        self.fail_next = 0
        self._changed = asyncio.Event()

    def append(self, count: int) -> None:
        start = len(self.events)
        self.events.extend(Event(p) for p in range(start + 1, start + count + 1))
        self._changed.set()

    async def read_after(self, position: int, limit: int) -> Sequence[Event]:
        self.reads += 1
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("database away")
        return self.events[position : position + limit]

    async def wait_for_change(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._changed.wait()
        except TimeoutError:
            return
        self._changed.clear()


async def take(subscription: Subscription[Event], count: int) -> list[Event | Dropped]:
    got: list[Event | Dropped] = []
    async with asyncio.timeout(GUARD_S):
        async for item in subscription:
            got.append(item)
            if len(got) == count:
                break
    return got


def positions(items: Sequence[Event | Dropped]) -> list[int]:
    return [e.position for e in items if isinstance(e, Event)]


async def test_a_thousand_subscribers_see_every_event_from_one_reader() -> None:
    memory = MemoryLog()
    async with LogFollower(memory.read_after, memory.wait_for_change, page_size=100) as follower:
        subscriptions = [follower.subscribe(0) for _ in range(1_000)]
        readers = [asyncio.create_task(take(s, 3_000)) for s in subscriptions]
        for _ in range(30):
            memory.append(100)
            await asyncio.sleep(0)
        seen = await asyncio.gather(*readers)
    expected = list(range(1, 3_001))
    assert all(positions(items) == expected for items in seen)
    # one reader's reads, not a thousand's: at most a read per batch, plus the empty
    # ones between batches
    assert memory.reads <= 2 * 30 + 2


async def test_a_slow_subscriber_is_dropped_with_where_to_resume() -> None:
    memory = MemoryLog()
    async with LogFollower(
        memory.read_after, memory.wait_for_change, queue_size=10, page_size=25
    ) as follower:
        slow, fast = follower.subscribe(0), follower.subscribe(0, queue_size=100)
        memory.append(25)
        fast_got = await take(fast, 25)
        assert positions(fast_got) == list(range(1, 26))
        assert slow.dropped and follower.subscriber_count == 1

        slow_got = await take(slow, 11)
        assert positions(slow_got) == list(range(1, 11))
        final = slow_got[-1]
        assert isinstance(final, Dropped) and final.resume_after == 10
        assert await slow.get() is None  # nothing after the final item

        # reconnecting where it was told: the rest from memory, then live
        again = follower.subscribe(final.resume_after)
        memory.append(5)
        assert positions(await take(again, 20)) == list(range(11, 31))


async def test_a_subscriber_dropped_mid_read_resumes_from_the_last_it_got() -> None:
    memory = MemoryLog()
    async with LogFollower(
        memory.read_after, memory.wait_for_change, queue_size=4, page_size=3
    ) as follower:
        slow = follower.subscribe(0)
        memory.append(3)
        first = await take(slow, 2)  # read 1, 2; 3 stays queued
        memory.append(9)  # 3 pages of 3 arrive; the fourth event overflows
        await follower.wait_beyond(11, GUARD_S)
        assert slow.dropped
        rest = await take(slow, 10)
    assert positions(first + rest) == [1, 2, 3, 4, 5, 6]
    final = rest[-1]
    assert isinstance(final, Dropped) and final.resume_after == 6


async def test_a_late_subscriber_gets_its_backlog_then_live() -> None:
    memory = MemoryLog()
    memory.append(50)
    async with LogFollower(
        memory.read_after, memory.wait_for_change, page_size=7, recent_size=5
    ) as follower:
        while follower.position < 50:
            await follower.wait_beyond(follower.position, GUARD_S)
        reads_before = memory.reads
        late = follower.subscribe(3)  # before the recent buffer: read from the log
        recent = follower.subscribe(47)  # inside it: no read
        memory.append(2)
        assert positions(await take(late, 49)) == list(range(4, 53))
        assert positions(await take(recent, 5)) == [48, 49, 50, 51, 52]
    assert memory.reads - reads_before <= 7 + 3  # late's pages, the follower's reads


async def test_wait_beyond_wakes_when_the_log_moves() -> None:
    memory = MemoryLog()
    async with LogFollower(memory.read_after, memory.wait_for_change) as follower:
        assert await follower.wait_beyond(0, 0.01) == 0  # nothing yet: returns at the bound
        waiting = asyncio.create_task(follower.wait_beyond(0, GUARD_S))
        await asyncio.sleep(0)
        memory.append(3)
        assert await waiting == 3


async def test_a_failing_read_is_retried_and_subscribers_keep_their_place() -> None:
    memory = MemoryLog()
    memory.fail_next = 3
    async with LogFollower(
        memory.read_after, memory.wait_for_change, error_backoff_s=(0.001, 0.002)
    ) as follower:
        subscription = follower.subscribe(0)
        memory.append(4)
        assert positions(await take(subscription, 4)) == [1, 2, 3, 4]


async def test_stopping_the_follower_tells_every_subscriber_where_it_was() -> None:
    memory = MemoryLog()
    follower = LogFollower(memory.read_after, memory.wait_for_change)
    await follower.start()
    subscription = follower.subscribe(0)
    memory.append(2)
    await take(subscription, 2)
    await follower.stop()
    final = await subscription.get()
    assert final == Dropped(resume_after=2, reason="the server is stopping")


async def test_a_closed_subscription_leaves_the_fan_out() -> None:
    memory = MemoryLog()
    async with LogFollower(memory.read_after, memory.wait_for_change) as follower:
        subscription = follower.subscribe(0)
        subscription.close()
        assert follower.subscriber_count == 0
        assert await subscription.get() is None


async def test_polling_waiter_returns_on_a_new_head_and_backs_off_when_idle() -> None:
    head = 0

    async def read_head() -> int:
        return head

    waiter = PollingWaiter(read_head, min_delay_s=0.001, max_delay_s=0.008)
    await waiter.wait_for_change(GUARD_S)  # the first look always counts as news
    polls = waiter.polls
    await waiter.wait_for_change(0.05)  # idle: polls at 1, 2, 4, 8, 8 ... ms
    idle_polls = waiter.polls - polls
    assert 1 <= idle_polls <= 50 / 1 and waiter._delay == pytest.approx(0.008)
    head = 5
    await waiter.wait_for_change(GUARD_S)
    assert waiter._delay == pytest.approx(0.001)  # a change resets the back-off


async def test_polling_waiter_wakes_on_a_nudge_without_polling() -> None:
    async def read_head() -> int:
        return 0

    waiter = PollingWaiter(read_head, min_delay_s=GUARD_S, max_delay_s=GUARD_S)
    waiting = asyncio.create_task(waiter.wait_for_change(GUARD_S))
    await asyncio.sleep(0)
    waiter.nudge()
    await waiting
    assert waiter.polls == 0


async def test_a_failing_waiter_does_not_stop_the_follower() -> None:
    memory = MemoryLog()
    failures = 3
    exhausted = asyncio.Event()

    async def flaky_wait(seconds: float) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            if not failures:
                exhausted.set()
            raise ConnectionError("listen connection lost")
        await memory.wait_for_change(seconds)

    async with LogFollower(
        memory.read_after, flaky_wait, error_backoff_s=(0.001, 0.002)
    ) as follower:
        subscription = follower.subscribe(0)
        async with asyncio.timeout(GUARD_S):
            await exhausted.wait()  # the waiter failed three times over
        memory.append(3)
        assert positions(await take(subscription, 3)) == [1, 2, 3]
