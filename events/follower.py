"""One log follower per process: reads each new event once, fans it out to every subscriber.

The database load of following the log is then one reader's, however many
`/v1/events/stream` subscribers, projection runners and checkpoint writers a process holds
(SPEC §9, B12). The follower is backend-neutral; it is given two callables:

- `read_after(position, limit)`: up to `limit` events after `position`, in order;
- `wait_for_change(seconds)`: returns when the log may have grown, or after `seconds`
  (a backend's `change_waiter()`: PostgreSQL LISTEN/NOTIFY,
  `events.store.postgres_notify`; SQLite: `PollingWaiter`). A spurious
  wake-up costs one empty read; a missed one costs at most `idle_read_s` of delay, because
  the follower reads again after that long anyway.

Each subscriber has a bounded queue. One that falls `queue_size` events behind is dropped:
it still gets what was queued, then a final `Dropped(resume_after=p)`, p being the last
position it got, so that it can reconnect (`Last-Event-ID: p`) and catch up from there.
A slow consumer never slows the others or grows memory without bound.

Subscribers that only need to know that the log moved (the projection runner, the
checkpoint writer) call `wait_beyond(position, seconds)` instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import structlog

log = structlog.get_logger("docket.follower")


class Positioned(Protocol):
    @property
    def position(self) -> int: ...


E = TypeVar("E", bound=Positioned)

ReadAfter = Callable[[int, int], Awaitable[Sequence[E]]]
WaitForChange = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Dropped:
    """The last item of a subscription that fell too far behind (or whose follower
    stopped): reconnect after `resume_after`, the last position it was given."""

    resume_after: int
    reason: str


class Subscription(Generic[E]):
    """Events after `after`, in order, until dropped or closed. Iterate it, or `get()`."""

    def __init__(self, follower: LogFollower[E], after: int, queue_size: int) -> None:
        self._follower = follower
        self._queue: deque[E] = deque()
        self._queue_size = queue_size
        self._ready = asyncio.Event()
        self._backlog: deque[E] = deque()
        self._backlog_after: int | None = after  # None once caught up with the follower
        self.joined_at = follower.position
        self.last_given = after
        self._drop_reason: str | None = None
        self.closed = False

    @property
    def dropped(self) -> bool:
        return self._drop_reason is not None

    # -- the follower's side -----------------------------------------------------------

    def _offer(self, events: Sequence[E]) -> bool:
        """Queue what fits of `events`; False when not all did (then it is dropped)."""
        room = self._queue_size - len(self._queue)
        self._queue.extend(events[: max(room, 0)])
        self._ready.set()
        return room >= len(events)

    def _drop(self, reason: str) -> None:
        self._drop_reason = reason
        self._ready.set()

    # -- the subscriber's side ---------------------------------------------------------

    async def get(self) -> E | Dropped | None:
        """The next event; a final `Dropped`; None once closed (by `close()`)."""
        while not self.closed:
            if self._backlog:
                return self._give(self._backlog.popleft())
            if self._backlog_after is not None:
                await self._fill_backlog()
                continue
            if self._queue:
                event = self._queue.popleft()
                if event.position > self.last_given:  # else given from the backlog
                    return self._give(event)
                continue
            if self._drop_reason is not None:
                self.closed = True
                # exactly the last position given, whatever was still queued at the drop
                return Dropped(resume_after=self.last_given, reason=self._drop_reason)
            self._ready.clear()
            await self._ready.wait()
        return None

    def ready(self, limit: int) -> list[E]:
        """Up to `limit` more events that can be given now, without waiting (the rest of
        a backlog page, what the fan-out queued): a sender batches them into one write."""
        out: list[E] = []
        while len(out) < limit and not self.closed:
            if self._backlog:
                out.append(self._give(self._backlog.popleft()))
            elif self._backlog_after is None and self._queue:
                event = self._queue.popleft()
                if event.position > self.last_given:
                    out.append(self._give(event))
            else:
                break
        return out

    def _give(self, event: E) -> E:
        self.last_given = event.position
        return event

    async def _fill_backlog(self) -> None:
        """Events from `after` up to where the follower was when we joined: from the
        follower's buffer of recent events when it still has them, else from the log
        (read by this subscriber alone, a page at a time)."""
        after = self._backlog_after
        assert after is not None
        if after >= self.joined_at:
            self._backlog_after = None
            return
        page = self._follower.recent_after(after, self.joined_at)
        if page is None:
            read = await self._follower.read_after(after, self._follower.page_size)
            page = [e for e in read if e.position <= self.joined_at]
        if not page:  # the log holds nothing more up to joined_at
            self._backlog_after = None
            return
        self._backlog.extend(page)
        self._backlog_after = page[-1].position

    def __aiter__(self) -> AsyncIterator[E | Dropped]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[E | Dropped]:
        while (item := await self.get()) is not None:
            yield item
            if isinstance(item, Dropped):
                return

    def close(self) -> None:
        """Leave the fan-out (a client that disconnected)."""
        self.closed = True
        self._ready.set()
        self._follower._leave(self)


class LogFollower(Generic[E]):
    """Follows the log from `start_after` and fans new events out to its subscribers."""

    def __init__(
        self,
        read_after: ReadAfter[E],
        wait_for_change: WaitForChange,
        *,
        start_after: int = 0,
        page_size: int = 500,
        queue_size: int = 1_000,
        recent_size: int = 2_000,
        idle_read_s: float = 30.0,
        error_backoff_s: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self.read_after = read_after
        self._wait_for_change = wait_for_change
        self.position = start_after
        self.page_size = page_size
        self.queue_size = queue_size
        self.idle_read_s = idle_read_s
        self._backoff = error_backoff_s
        self._recent: deque[E] = deque(maxlen=recent_size)
        self._subscribers: set[Subscription[E]] = set()
        self._moved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reads = 0  # for /metrics and the benchmarks

    # -- life --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self, after: int | None = None) -> None:
        """Follow from `after` (else from where it was made to start); once."""
        if self._task is None:
            if after is not None:
                self.position = after
            self._task = asyncio.create_task(self._run(), name="docket-log-follower")

    async def stop(self) -> None:
        """Stop following; every subscriber gets its final `Dropped`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subscription in list(self._subscribers):
            subscription._drop("the server is stopping")
        self._subscribers.clear()

    async def __aenter__(self) -> LogFollower[E]:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # -- subscribing -------------------------------------------------------------------

    def subscribe(self, after: int, *, queue_size: int | None = None) -> Subscription[E]:
        """Every event after `after`, the backlog first (from memory when recent enough,
        else read by this subscriber alone), then live from the fan-out."""
        subscription = Subscription(self, after, queue_size or self.queue_size)
        self._subscribers.add(subscription)
        return subscription

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def wait_beyond(self, position: int, seconds: float) -> int:
        """The follower's position once it is past `position`, or after `seconds`: for
        the projection runner and the checkpoint writer, which only need a wake-up."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while self.position <= position:
                    await self._moved.wait()
        return self.position

    def recent_after(self, after: int, up_to: int) -> list[E] | None:
        """The buffered events in (after, up_to], or None when the buffer no longer
        reaches back to `after` (then the caller reads the log)."""
        if not self._recent or self._recent[0].position > after + 1:
            return None
        return [e for e in self._recent if after < e.position <= up_to][: self.page_size]

    def _leave(self, subscription: Subscription[E]) -> None:
        self._subscribers.discard(subscription)

    # -- following ---------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._backoff[0]
        while True:
            try:
                events = await self.read_after(self.position, self.page_size)
                self.reads += 1
                delay = self._backoff[0]
            except Exception as error:  # the database away: keep subscribers, retry
                log.warning("docket.follower.read_failed", error=str(error)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            if events:
                self._fan_out(events)
                if len(events) == self.page_size:
                    continue  # more may be waiting: read on before sleeping
            try:
                await self._wait_for_change(self.idle_read_s)
            except Exception as error:  # a waiter that fails must not stop the follower
                log.warning("docket.follower.wait_failed", error=str(error)[:200])
                await asyncio.sleep(delay)

    def _fan_out(self, events: Sequence[E]) -> None:
        self.position = events[-1].position
        self._recent.extend(events)
        for subscription in list(self._subscribers):
            if subscription.closed:
                self._subscribers.discard(subscription)
            elif not subscription._offer(events):
                self._subscribers.discard(subscription)
                subscription._drop(f"fell more than {subscription._queue_size} events behind")
                log.info("docket.follower.dropped", last_given=subscription.last_given)
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()


class PollingWaiter:
    """`wait_for_change` for a backend without notifications (SQLite): looks at the head
    with back-off while nothing changes (`min_delay_s` doubling up to `max_delay_s`), at
    once again after a change. `nudge()` wakes it early: the writer of this process calls
    it after a commit, so that in-process appends are seen with no polling delay."""

    def __init__(
        self,
        head: Callable[[], Awaitable[int]],
        *,
        min_delay_s: float = 0.05,
        max_delay_s: float = 2.0,
    ) -> None:
        self._head = head
        self._min, self._max = min_delay_s, max_delay_s
        self._delay = min_delay_s
        self._seen: int | None = None
        self._nudged = asyncio.Event()
        self.polls = 0

    def nudge(self) -> None:
        self._nudged.set()

    async def close(self) -> None:
        """Nothing to release (a `ChangeWaiter`)."""

    async def wait_for_change(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self._delay, remaining)):
                    await self._nudged.wait()
            if self._nudged.is_set():
                self._nudged.clear()
                self._delay = self._min
                return
            head = await self._head()
            self.polls += 1
            if head != self._seen:
                self._seen = head
                self._delay = self._min
                return
            self._delay = min(self._delay * 2, self._max)
