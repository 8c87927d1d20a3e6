"""Server-Sent Events frames of a log follower subscription (`GET /v1/events/stream`).

Each event is a frame `id: <position>`, `event: <type>`, `data: <wire JSON>`, so that a
client reconnecting with `Last-Event-ID` resumes after the last one it got. A subscriber
the follower dropped for being too slow gets a last `event: resume` frame naming where to
resume, then the stream ends. A comment line every `keepalive_s` while the log is idle
keeps proxies from closing the connection.

Frames are rendered once per event, by the follower's reader (`framing`), not once per
subscriber: with a thousand subscribers the JSON of an event is encoded once, and each
subscriber is sent the same bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from events.follower import Dropped, Subscription

RESUME_EVENT = "resume"
#: At most this many events in one write to a subscriber.
BURST = 256
KEEPALIVE = b": keep-alive\n\n"


class StreamedEvent(Protocol):
    @property
    def position(self) -> int: ...

    @property
    def event_type(self) -> str: ...


E = TypeVar("E", bound=StreamedEvent)


class Framed:
    """An event as the stream sends it: its position and its SSE frame, rendered when a
    subscriber first asks for it (never, while nobody subscribes), then shared."""

    __slots__ = ("_event", "_frame", "_wire", "position")

    def __init__(self, event: StreamedEvent, wire: Callable[[Any], Any]) -> None:
        self.position = event.position
        self._event: StreamedEvent | None = event
        self._wire = wire
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            event = self._event
            assert event is not None
            self._frame = event_frame(event.position, event.event_type, self._wire(event))
            self._event = None  # the bytes are kept, not the event as well
        return self._frame


def framing(
    read_after: Callable[[int, int], Awaitable[Sequence[E]]], wire: Callable[[E], Any]
) -> Callable[[int, int], Awaitable[list[Framed]]]:
    """A `read_after` for the follower of the stream: the events of `read_after`, each
    rendered once as its frame, when first sent."""

    async def read(position: int, limit: int) -> list[Framed]:
        return [Framed(event, wire) for event in await read_after(position, limit)]

    return read


def event_frame(position: int, event_type: str, wire: Any) -> bytes:
    return f"id: {position}\nevent: {event_type}\ndata: ".encode() + orjson.dumps(wire) + b"\n\n"


def resume_frame(dropped: Dropped) -> bytes:
    """The last frame of a dropped subscriber; its id is the position to resume after."""
    body = {"resume_after": dropped.resume_after, "reason": dropped.reason}
    return (
        f"id: {dropped.resume_after}\nevent: {RESUME_EVENT}\ndata: ".encode()
        + orjson.dumps(body)
        + b"\n\n"
    )


async def sse_frames(
    subscription: Subscription[Framed],
    *,
    keepalive_s: float = 15.0,
    until: int | None = None,
) -> AsyncGenerator[bytes, None]:
    """The frames of `subscription` until it is dropped or the client goes (the caller's
    generator is closed: the subscription leaves the fan-out). With `until`, stops after
    that position (`follow=false`: what the log holds now, then the end)."""
    try:
        while True:
            if until is not None and subscription.last_given >= until:
                return
            try:
                # cancel-safe: Subscription.get changes no state before its wait returns
                async with asyncio.timeout(keepalive_s):
                    item = await subscription.get()
            except TimeoutError:
                yield KEEPALIVE
                continue
            if item is None:
                return
            if isinstance(item, Dropped):
                yield resume_frame(item)
                return
            # what else is ready goes in the same write: one send for a burst, not one
            # per event and subscriber
            more = subscription.ready(BURST - 1)
            if until is not None:
                more = [framed for framed in more if framed.position <= until]
            yield item.frame + b"".join(framed.frame for framed in more) if more else item.frame
    finally:
        subscription.close()
