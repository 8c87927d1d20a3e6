"""B7: the `as_of` state of a 500-event request: `read_stream` (every event known: a
retraction that occurred after T still takes its target back, SPEC §5) +
`projections.request.fold(as_of=T)` + `view`, in process (what
`GET /v1/requests/{id}?as_of=T` does), and over HTTP against one `docket serve`.
Target: ≤ 10 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime

from bench import db, gen
from bench.cli import parser, report
from bench.db import Result
from bench.http import Session, request_bytes, serve
from events.model import utc_text
from events.store import EventStore
from events.types import request_stream
from projections.request import fold, view


async def in_process(url: str, rounds: int = 200) -> tuple[list[float], int, datetime]:
    """Times of the state as of just before the stream's last event: 499 events folded
    (as of its last event or later, the service may answer from the state it keeps)."""
    store = await EventStore.open(url)
    stream = request_stream(gen.LONG_ID)
    try:
        every = await store.read_stream(stream)
        as_of = every[-2].occurred_at
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            events = await store.read_stream(stream)
            state = fold(events, as_of=as_of)
            assert state is not None
            view(state, as_of)
            times.append(time.perf_counter() - start)
        return times, len(every), as_of
    finally:
        await store.close()


async def over_http(port: int, token: str, as_of: str, rounds: int = 200) -> list[float]:
    session = Session(port)
    request = request_bytes("GET", f"/v1/requests/{gen.LONG_ID}?as_of={as_of}", port, token)
    try:
        times = []
        for _ in range(rounds):
            status, _, seconds = await session.send(request)
            if status != 200:
                raise RuntimeError(f"GET as_of answered {status}")
            times.append(seconds)
        return times
    finally:
        session.close()


def run(events: int = 10_000) -> Result:
    result = Result("B7", "as_of state of a 500-event request", f"log of {events:,} events")
    template = asyncio.run(gen.log_template(events))
    times, length, as_of = asyncio.run(in_process(db.url(template)))
    result.add("  events in the request's stream (all but the last folded)", length, "")
    ours = result.add("in process: median", statistics.median(times) * 1000, "ms")
    result.add("in process: p99", sorted(times)[int(len(times) * 0.99)] * 1000, "ms")
    database = f"{db.PREFIX}b7_run"
    url = asyncio.run(db.copy_of(template, database))
    try:
        with serve(url) as server:
            past = utc_text(as_of).replace(":", "%3A")
            http = asyncio.run(over_http(server.port, server.token, past))
            now = utc_text(datetime.now(UTC)).replace(":", "%3A")
            current = asyncio.run(over_http(server.port, server.token, now))
        result.add("over HTTP: median", statistics.median(http) * 1000, "ms")
        result.add("over HTTP: p99", sorted(http)[int(len(http) * 0.99)] * 1000, "ms")
        result.add(
            "over HTTP, as_of now (kept state), median, info",
            statistics.median(current) * 1000,
            "ms",
        )
        result.check("≤ 10 ms over HTTP (median)", statistics.median(http) * 1000 <= 10)
    finally:
        asyncio.run(db.drop(database))
    result.check("≤ 10 ms in process (median)", ours <= 10)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=10_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
