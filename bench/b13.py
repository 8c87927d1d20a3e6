"""B13: collection reads as of a past moment over HTTP, against one `docket serve` on a
log of N events: `GET /v1/requests?status=on_hold&as_of=T` (a page of 50) and
`GET /v1/stats/holds?as_of=T` (with `GET /v1/stats/processing?as_of=T` beside it), T the
business time of the event halfway through the log. Targets: p50 ≤ 50 ms and ≤ 100 ms.
For information, the same page now (`GET /v1/requests?status=on_hold`: `request_state`
chooses the rows, each item is its request's stream folded).
The server runs as production runs it (as B2): DOCKET_SERVE_BACKGROUND=false with a
`docket work` beside it, which builds the Merkle tree of the copied log while the reads
are measured (inside the API process that work would share its event loop).

References in the same run: a trivial endpoint of the same server (`/healthz`), and the
bare database work with no application in the way: asyncpg running the page's
selection and the hold statistics' aggregate as plain SQL.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import datetime

import asyncpg

from bench import db, gen
from bench.cli import parser, report
from bench.db import Result
from bench.http import Session, request_bytes, serve
from events.model import utc_text
from events.store import EventStore
from projections.intervals.tables import micros
from projections.runner import ProjectionRunner
from service.cli import rebuilt_tables
from service.platform.db import refresh_statistics

ROUNDS = 100

# a status row keeps the status without the holds (0017): on hold is circulated and
# undecided, with a hold active then
_PAGE_SQL = """
SELECT s.request_id, s.status FROM request_status_intervals s
WHERE s.status IN ('under_review', 'awaiting_decision') AND s.recorded_to IS NULL
  AND s.valid_from <= $1 AND (s.valid_to IS NULL OR s.valid_to > $1)
  AND EXISTS (
    SELECT 1 FROM hold_intervals h
    WHERE h.request_id = s.request_id AND h.recorded_to IS NULL AND h.placed_at <= $1
      AND (h.ended_us IS NULL OR h.ended_us > $2)
  )
ORDER BY s.request_id LIMIT 51
"""
_HOLDS_SQL = """
SELECT member, count(*), sum(CASE WHEN ended_us <= $2 THEN ended_us ELSE $2 END - placed_us)
FROM hold_intervals WHERE recorded_to IS NULL AND placed_at <= $1
GROUP BY member
"""


async def rebuilt(url: str) -> tuple[float, datetime]:
    """Rebuild every projection (the served state); the time halfway through the log."""
    store = await EventStore.open(url)
    runner = ProjectionRunner(store.engine, store)
    try:
        start = time.perf_counter()
        head = await runner.rebuild()
        seconds = time.perf_counter() - start
        # what `docket rebuild` does next (not timed as part of the rebuild)
        await refresh_statistics(store.engine, rebuilt_tables(None))
        middle = await store.event_at(head // 2)
        assert middle is not None
        return seconds, middle.occurred_at
    finally:
        await runner.close()
        await store.close()


async def over_http(port: int, token: str, paths: dict[str, str]) -> dict[str, list[float]]:
    session = Session(port)
    times: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for name, path in paths.items():
            request = request_bytes("GET", path, port, token)
            for round_no in range(ROUNDS + 5):
                status, body, seconds = await session.send(request)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
                if round_no >= 5:  # warm-up excluded
                    times[name].append(seconds)
        return times
    finally:
        session.close()


async def bare(database: str, at: datetime) -> dict[str, list[float]]:
    conn = await asyncpg.connect(db.dsn(database))
    times: dict[str, list[float]] = {"page": [], "holds": []}
    try:
        for _ in range(ROUNDS):
            start = time.perf_counter()
            await conn.fetch(_PAGE_SQL, at, micros(at))
            times["page"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await conn.fetch(_HOLDS_SQL, at, micros(at))
            times["holds"].append(time.perf_counter() - start)
        return times
    finally:
        await conn.close()


def _p50(times: list[float]) -> float:
    return statistics.median(times) * 1000


def run(events: int = 200_000) -> Result:
    result = Result("B13", "collection reads as of a past moment", f"{events:,} events")
    template = asyncio.run(gen.log_template(events))
    database = f"{db.PREFIX}b13_run"
    url = asyncio.run(db.copy_of(template, database))
    try:
        seconds, at = asyncio.run(rebuilt(url))
        result.add("  projections rebuilt in (before serving)", seconds, "s")
        moment = utc_text(at).replace(":", "%3A")
        paths = {
            "requests": f"/v1/requests?status=on_hold&as_of={moment}&limit=50",
            "holds": f"/v1/stats/holds?as_of={moment}",
            "processing": f"/v1/stats/processing?as_of={moment}",
            "now": "/v1/requests?status=on_hold&limit=50",
            "trivial": "/healthz",
        }
        with serve(url, separate_work=True) as server:
            http = asyncio.run(over_http(server.port, server.token, paths))
        reference = asyncio.run(bare(database, at))
    finally:
        asyncio.run(db.drop(database))
    page = result.add("GET /v1/requests?status=on_hold&as_of p50", _p50(http["requests"]), "ms")
    result.add("  p99", sorted(http["requests"])[int(ROUNDS * 0.99)] * 1000, "ms")
    holds = result.add("GET /v1/stats/holds?as_of p50", _p50(http["holds"]), "ms")
    result.add("  p99", sorted(http["holds"])[int(ROUNDS * 0.99)] * 1000, "ms")
    result.add("GET /v1/stats/processing?as_of p50, info", _p50(http["processing"]), "ms")
    result.add("GET /v1/requests?status=on_hold (now) p50, info", _p50(http["now"]), "ms")
    trivial = result.add("trivial endpoint (/healthz) p50", _p50(http["trivial"]), "ms")
    bare_page = result.add("bare asyncpg: the page's selection p50", _p50(reference["page"]), "ms")
    bare_holds = result.add("bare asyncpg: the holds aggregate p50", _p50(reference["holds"]), "ms")
    result.add(
        "ratio of the page to bare selection + trivial endpoint", page / (bare_page + trivial), "×"
    )
    result.add(
        "ratio of the holds stats to bare aggregate + trivial", holds / (bare_holds + trivial), "×"
    )
    result.check("requests as of: p50 ≤ 50 ms", page <= 50)
    result.check("hold stats as of: p50 ≤ 100 ms", holds <= 100)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
