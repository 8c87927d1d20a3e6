"""SSE frames of a follower subscription: one frame per event with its position as id,
a final `resume` frame for a dropped subscriber, keep-alives while idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import orjson

from events.follower import LogFollower
from service.platform.event_stream import KEEPALIVE, framing, sse_frames

GUARD_S = 60


@dataclass(frozen=True)
class Event:
    position: int
    event_type: str = "Noted"


class Log:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changed = asyncio.Event()

    def append(self, count: int) -> None:
        start = len(self.events)
        self.events += [Event(p) for p in range(start + 1, start + count + 1)]
        self.changed.set()

    async def read_after(self, position: int, limit: int) -> Sequence[Event]:
        return self.events[position : position + limit]

    async def wait_for_change(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self.changed.wait()
        except TimeoutError:
            return
        self.changed.clear()


def wire(event: Event) -> dict[str, int]:
    return {"position": event.position}


async def frames_of(stream: AsyncIterator[bytes], count: int) -> list[bytes]:
    """The first `count` frames of `stream` (a write may carry several)."""
    got: list[bytes] = []
    async with asyncio.timeout(GUARD_S):
        async for chunk in stream:
            got.extend(frame + b"\n\n" for frame in chunk.split(b"\n\n")[:-1])
            if len(got) >= count:
                break
    return got[:count]


async def test_each_event_is_a_frame_with_its_position_as_id() -> None:
    log = Log()
    log.append(2)
    async with LogFollower(framing(log.read_after, wire), log.wait_for_change) as follower:
        subscription = follower.subscribe(0)
        frames = await frames_of(sse_frames(subscription, until=2), 3)
    assert frames == [
        b'id: 1\nevent: Noted\ndata: {"position":1}\n\n',
        b'id: 2\nevent: Noted\ndata: {"position":2}\n\n',
    ]


async def test_a_dropped_subscriber_gets_a_resume_frame_and_the_end() -> None:
    log = Log()
    async with LogFollower(
        framing(log.read_after, wire), log.wait_for_change, queue_size=3
    ) as follower:
        subscription = follower.subscribe(0)
        log.append(5)
        await follower.wait_beyond(4, GUARD_S)
        frames = await frames_of(sse_frames(subscription), 10)
    assert len(frames) == 4
    head, _, data = frames[-1].partition(b"data: ")
    assert head == b"id: 3\nevent: resume\n"
    assert orjson.loads(data)["resume_after"] == 3
    assert follower.subscriber_count == 0


async def test_a_burst_goes_out_in_one_write() -> None:
    log = Log()
    log.append(5)
    async with LogFollower(framing(log.read_after, wire), log.wait_for_change) as follower:
        subscription = follower.subscribe(0)
        stream = sse_frames(subscription, until=5)
        async with asyncio.timeout(GUARD_S):
            chunks = [chunk async for chunk in stream]
    assert b"".join(chunks).count(b"id: ") == 5 and len(chunks) < 5


async def test_an_idle_stream_sends_keep_alives_and_closing_leaves_the_fan_out() -> None:
    log = Log()
    async with LogFollower(framing(log.read_after, wire), log.wait_for_change) as follower:
        subscription = follower.subscribe(0)
        stream = sse_frames(subscription, keepalive_s=0.01)
        assert await frames_of(stream, 2) == [KEEPALIVE, KEEPALIVE]
        await stream.aclose()
        assert follower.subscriber_count == 0
