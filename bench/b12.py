"""B12: 1,000 open `/v1/events/stream` subscribers on one `docket serve` process while
B1's load runs. Target: every subscriber sees every event; database queries per second
independent of the subscriber count.

Database load is the server database's `xact_commit + xact_rollback` delta in
`pg_stat_database` over a window (every single-statement read is a transaction; the
statistics are flushed by each backend about once a second, so a window is ≥ 10 s):
idle with 0, 100 and 1,000 subscribers, then with B1's load (its 32 in-process callers,
bench/b1.py, appending through the store of this process) with 0 and with 1,000
subscribers. The subscribers are raw HTTP/1.1 connections (chunked bodies decoded by
hand: an HTTP library would measure the client) that count `id:` lines; after the load
each must have counted every position from where it joined to the final head, with no
repeat (a subscriber the server drops is reconnected with `Last-Event-ID`, and the
reconnections are reported).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from bench import b1, db, gen
from bench.cli import parser, report
from bench.db import Result
from bench.http import serve
from events.follower import Dropped, LogFollower
from events.model import RecordedEvent
from events.store import EventStore
from events.store.postgres_notify import PostgresNotifyWaiter, dsn_connect

SUBSCRIBERS = 1_000
MIN_WINDOW_S = 10.0
WARMUP_S = 2.0  # B1's: its callers fill the state cache first
CATCH_UP_S = 120.0  # how long subscribers may take to drain after the load stops


@dataclass
class Subscriber:
    """One SSE connection, counting the positions it is sent."""

    port: int
    token: str
    after: int
    seen: int = 0
    repeats: int = 0
    gaps: int = 0
    reconnects: int = 0
    connected: bool = False
    failed: str | None = None

    @property
    def last(self) -> int:
        return self.after + self.seen

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                self.failed = f"{type(error).__name__}: {error}"
            if stop.is_set():
                return
            self.reconnects += 1
            await asyncio.sleep(0.1)

    async def _follow(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(
                (
                    f"GET /v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {self.token}\r\nLast-Event-ID: {self.last}\r\n\r\n"
                ).encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                raise ValueError(f"stream answered {status}")
            self.connected = True
            chunked = b"transfer-encoding: chunked" in head.lower()
            pending = b""
            while not stop.is_set():
                chunk = await (_chunk(reader) if chunked else reader.read(65536))
                if not chunk:
                    return  # dropped by the server: reconnect from the last position
                frames = (pending + chunk).split(b"\n\n")
                pending = frames.pop()
                for frame in frames:
                    if frame.startswith(b"id: "):
                        self._saw(int(frame[4 : frame.index(b"\n")]))
        finally:
            writer.close()

    def _saw(self, position: int) -> None:
        if position <= self.last:
            self.repeats += 1
        elif position != self.last + 1:
            self.gaps += 1
            self.seen = position - self.after
        else:
            self.seen += 1


async def _chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked body (b"" at its end)."""
    size = int((await reader.readline()).split(b";", 1)[0], 16)
    data = await reader.readexactly(size + 2)  # the chunk and its CRLF
    return data[:-2]


async def _transactions(database: str) -> int:
    conn = await asyncpg.connect(db.admin_dsn())
    try:
        value = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            database,
        )
        return int(value)
    finally:
        await conn.close()


async def _rate(database: str, seconds: float) -> float:
    before, start = await _transactions(database), time.perf_counter()
    await asyncio.sleep(seconds)
    after = await _transactions(database)
    # our own two statistics queries are on the admin database, not counted here
    return (after - before) / (time.perf_counter() - start)


async def _head(database: str) -> int:
    conn = await asyncpg.connect(db.dsn(database))
    try:
        return int(await conn.fetchval("SELECT coalesce(max(position), 0) FROM events"))
    finally:
        await conn.close()


async def _until(done: Callable[[], bool], within: float, step: float = 0.2) -> None:
    for _ in range(int(within / step)):
        if done():
            return
        await asyncio.sleep(step)


async def _measure(
    port: int, token: str, database: str, url: str, seconds: float, counts: tuple[int, ...]
) -> dict[str, float]:
    window = max(seconds, MIN_WINDOW_S)
    out: dict[str, float] = {}
    subscribers: list[Subscriber] = []
    tasks: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    requests = gen.open_request_ids()

    async def grow_to(count: int) -> None:
        joined_at = await _head(database)
        while len(subscribers) < count:
            subscriber = Subscriber(port, token, joined_at)
            subscribers.append(subscriber)
            tasks.append(asyncio.create_task(subscriber.run(stop)))
        await _until(lambda: all(s.connected for s in subscribers), 60)
        await asyncio.sleep(1.0)  # let the connect burst's queries leave the window

    async def loaded(count: int) -> None:
        load = asyncio.create_task(b1.command_rate(url, requests, seconds=window, warmup=WARMUP_S))
        await asyncio.sleep(WARMUP_S)
        out[f"tx/s under B1's load, {count} subscribers"] = await _rate(database, window)
        commands, elapsed, _ = await load
        out[f"B1 commands/s, {count} subscribers"] = commands / elapsed

    try:
        out["tx/s idle, 0 subscribers"] = await _rate(database, window)
        await loaded(0)
        for count in counts[1:]:
            await grow_to(count)
            out[f"tx/s idle, {count} subscribers"] = await _rate(database, window)
        await loaded(counts[-1])
        final = await _head(database)
        await _until(lambda: all(s.last >= final for s in subscribers), CATCH_UP_S)
        complete = [s for s in subscribers if s.last >= final and not s.gaps and not s.repeats]
        out["events appended while subscribed"] = final - min(s.after for s in subscribers)
        out["subscribers that saw every event exactly once"] = len(complete)
        out["subscribers with a gap or a repeat"] = sum(
            1 for s in subscribers if s.gaps or s.repeats
        )
        out["events seen per subscriber, mean"] = sum(s.seen for s in subscribers) / len(
            subscribers
        )
        out["subscriber reconnections"] = sum(s.reconnects for s in subscribers)
        out["subscribers"] = len(subscribers)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return out


async def _copy(events: int, database: str) -> str:
    copied = await db.copy_of(await gen.log_template(events), database)
    # a template kept from an older run may predate the events trigger (migration 0003)
    await asyncio.to_thread(db._migrate, copied)
    return copied


async def _follower_reference(
    database: str, url: str, seconds: float, subscribers: int
) -> dict[str, float]:
    """What the wiring will give, measured now without HTTP: one LogFollower woken by
    LISTEN/NOTIFY (events/notify_pg.py) in this process, `subscribers` in-memory
    subscribers, B1's load appending through another store of the same process."""
    window = max(seconds, MIN_WINDOW_S)
    out: dict[str, float] = {}
    store = await EventStore.open(url)
    waiter = PostgresNotifyWaiter(dsn_connect(db.dsn(database)))

    async def read_after(position: int, limit: int) -> list[RecordedEvent]:
        return await store.read_all(position, limit)

    head = await _head(database)
    follower = LogFollower(read_after, waiter.wait_for_change, start_after=head)
    seen = [0] * subscribers
    dropped = [0] * subscribers

    async def consume(k: int) -> None:
        subscription = follower.subscribe(head)
        while True:
            async for item in subscription:
                if isinstance(item, Dropped):
                    dropped[k] += 1
                    subscription = follower.subscribe(item.resume_after)
                    break
                seen[k] += 1
            else:
                return

    try:
        async with waiter, follower:
            out["follower: tx/s idle, 0 subscribers"] = await _rate(database, window)
            tasks = [asyncio.create_task(consume(k)) for k in range(subscribers)]
            out[f"follower: tx/s idle, {subscribers} subscribers"] = await _rate(database, window)
            load = asyncio.create_task(
                b1.command_rate(url, gen.open_request_ids(), seconds=window, warmup=WARMUP_S)
            )
            await asyncio.sleep(WARMUP_S)
            out[f"follower: tx/s under B1's load, {subscribers} subscribers"] = await _rate(
                database, window
            )
            commands, elapsed, _ = await load
            out[f"follower: B1 commands/s, {subscribers} subscribers"] = commands / elapsed
            final = await _head(database)
            await _until(lambda: all(n >= final - head for n in seen), CATCH_UP_S)
            out["follower: events appended"] = final - head
            out["follower: subscribers that saw every event"] = sum(
                1 for n in seen if n == final - head
            )
            out["follower: subscribers dropped (and resumed)"] = sum(1 for d in dropped if d)
            out["follower: log reads"] = follower.reads
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await store.close()
    return out


def run(
    events: int = 10_000,
    seconds: float = 10.0,
    subscribers: int = SUBSCRIBERS,
    *,
    follower: bool = True,
) -> Result:
    reference: dict[str, float] = {}
    counts = (0, subscribers // 10, subscribers)
    result = Result(
        "B12",
        f"{subscribers:,} /v1/events/stream subscribers on one process while B1's load runs",
        f"log of {events:,} events, 1,000 open requests",
    )
    database = f"{db.PREFIX}b12_run"
    url = asyncio.run(_copy(events, database))
    try:
        with serve(url, workers=1) as server:
            figures = asyncio.run(
                _measure(server.port, server.token, database, url, seconds, counts)
            )
        if follower:
            try:
                reference = asyncio.run(_follower_reference(database, url, seconds, subscribers))
            except Exception as error:  # the reference is information; keep what was measured
                result.notes.append(f"follower reference failed: {type(error).__name__}")
    finally:
        asyncio.run(db.drop(database))
    for name, value in figures.items():
        result.add(name, value, "/s" if "/s" in name else "")
    idle = [figures[f"tx/s idle, {n} subscribers"] for n in counts]
    loaded = [figures[f"tx/s under B1's load, {n} subscribers"] for n in (0, counts[-1])]
    result.add(
        f"idle tx/s per subscriber ({subscribers:,} vs 0)", (idle[-1] - idle[0]) / subscribers, "/s"
    )
    everyone = figures["subscribers that saw every event exactly once"] == figures["subscribers"]
    result.check("every subscriber sees every event", everyone)
    # "independent of the subscriber count": with all of them, at most a tenth more
    # transactions per second than with none (or 100/s more: a tenth of a per cent each)
    result.check(
        "idle database load independent of subscribers (≤ +10%, ≤ +100 tx/s)",
        idle[-1] <= max(idle[0] * 1.1, idle[0] + 100),
    )
    result.check(
        "database load under B1's load independent of subscribers (≤ +10%, ≤ +100 tx/s)",
        loaded[1] <= max(loaded[0] * 1.1, loaded[0] + 100),
    )
    for name, value in reference.items():
        result.add(name, value, "/s" if "/s" in name else "")
    if reference:
        result.notes.append(
            "follower: figures are a reference without HTTP (one LogFollower + LISTEN/NOTIFY "
            "in the bench process), what /v1/events/stream gets once wired to it"
        )
    return result


def main() -> None:
    p = parser(__doc__ or "", events=10_000, seconds=10.0)
    p.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    p.add_argument("--no-follower", action="store_true", help="skip the in-process reference")
    args = p.parse_args()
    result = run(args.events, args.seconds, args.subscribers, follower=not args.no_follower)
    report(result, args.json)


if __name__ == "__main__":
    main()
