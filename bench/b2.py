"""B2: B1's commands through HTTP against one `docket serve` process (uvicorn; SPEC §11),
64 keep-alive connections. Target: ≥ 1,500/s, p99 ≤ 50 ms, ≥ 0.4× a trivial endpoint
(`/healthz`) of the same server.

The server runs as production runs it (docs/OPERATIONS.md): one API process started
with DOCKET_SERVE_BACKGROUND=false and the background work (projection worker, checkpoint
writer) in a `docket work` process beside it; `--work-in-process` measures the other
layout (the background work inside `docket serve`). The client is a raw asyncio HTTP/1.1
client in this process (bench/http.py); all of them share the machine's two cores.
`--workers N` runs N server processes instead (the store serialises appends across them).
The server's CPU time per answer in each window is reported too (and the worker's per
command): unlike the rates, the other jobs of a shared machine hardly move it.
"""

from __future__ import annotations

import asyncio

from bench import db, gen
from bench.cli import parser, report
from bench.db import Result
from bench.http import process_cpu_seconds, request_bytes, run_load, serve

CONNECTIONS = 64


def run(
    events: int = 10_000, seconds: float = 8.0, workers: int = 1, separate_work: bool = True
) -> Result:
    where = "beside it, `docket work`" if separate_work else "inside it"
    result = Result(
        "B2",
        f"place/release holds over HTTP, {CONNECTIONS} connections, {workers} server"
        f" process(es), the projection worker {where}",
        f"log of {events:,} events, 1,000 open requests",
    )
    database = f"{db.PREFIX}b2_run"
    url = asyncio.run(_copy(events, database))
    requests = gen.open_request_ids()
    try:
        with serve(url, workers=workers, separate_work=separate_work) as server:
            place = {
                r: request_bytes("POST", f"/v1/requests/{r}/holds", server.port, server.token,
                                 {"member": "USA"})
                for r in requests
            }  # fmt: skip
            release = {
                r: request_bytes("POST", f"/v1/requests/{r}/holds/USA/release", server.port,
                                 server.token, {})
                for r in requests
            }  # fmt: skip
            mine = [requests[k::CONNECTIONS] for k in range(CONNECTIONS)]

            def command(k: int, n: int) -> bytes:
                owned = mine[k]
                request_id = owned[(n // 2) % len(owned)]
                return place[request_id] if n % 2 == 0 else release[request_id]

            health = request_bytes("GET", "/healthz", server.port, None)
            cpu = server.cpu_seconds
            work_cpu = process_cpu_seconds(server.work_pid) if server.work_pid else 0.0
            load = asyncio.run(
                run_load(server.port, CONNECTIONS, command, seconds=seconds, cpu=cpu)
            )
            if server.work_pid:
                work_cpu = process_cpu_seconds(server.work_pid) - work_cpu
            trivial = asyncio.run(
                run_load(server.port, CONNECTIONS, lambda k, n: health, seconds=seconds, cpu=cpu)
            )
    finally:
        asyncio.run(db.drop(database))
    rate = result.add("docket commands/s over HTTP (2xx only)", load.ok / load.seconds, "/s")
    result.add("  answers by status", 0, str(load.statuses))
    p50 = result.add("  p50 latency", load.percentile(50) * 1000, "ms")
    p99 = result.add("  p99 latency", load.percentile(99) * 1000, "ms")
    del p50
    healthz = result.add(
        "/healthz answers/s (same server, same client)", trivial.ok / trivial.seconds, "/s"
    )
    result.add("ratio to /healthz", rate / healthz, "×")
    result.add("server CPU per command (info)", load.cpu_per_answer_us(), "µs")
    result.add("server CPU per /healthz (info)", trivial.cpu_per_answer_us(), "µs")
    if separate_work:
        per_command = work_cpu / load.answers * 1e6 if load.answers else float("nan")
        result.add("`docket work` CPU per command, same window (info)", per_command, "µs")
    result.check("≥ 1,500 commands/s", rate >= 1500)
    result.check("p99 ≤ 50 ms", p99 <= 50)
    result.check("≥ 0.4× the trivial endpoint", rate / healthz >= 0.4)
    errors = sum(n for s, n in load.statuses.items() if s >= 300)
    if errors:
        result.notes.append(f"{errors} non-2xx answers (see statuses)")
    return result


async def _copy(events: int, database: str) -> str:
    return await db.copy_of(await gen.log_template(events), database)


def main() -> None:
    p = parser(__doc__ or "", events=10_000)
    p.add_argument("--workers", type=int, default=1, help="server processes (SPEC: one)")
    p.add_argument(
        "--work-in-process",
        action="store_true",
        help="the projection worker inside `docket serve` instead of a `docket work` beside it",
    )
    args = p.parse_args()
    report(run(args.events, args.seconds, args.workers, not args.work_in_process), args.json)


if __name__ == "__main__":
    main()
