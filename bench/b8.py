"""B8: B1 (in process, PostgreSQL) at a log of N events against a log of 10,000.
Target: ratio ≥ 0.8. The two sizes are measured alternately, three rounds each, and the
medians compared: one round of each swung the ratio between 0.78 and 1.18 on a shared
2-core machine.
"""

from __future__ import annotations

import asyncio
import statistics

from bench.b1 import postgres_rate
from bench.cli import parser, report
from bench.db import Result

SMALL = 10_000
ROUNDS = 3


def run(events: int = 200_000, seconds: float = 8.0) -> Result:
    result = Result(
        "B8", "B1 at a large log against a small one", f"{events:,} vs {SMALL:,} events"
    )
    smalls: list[float] = []
    larges: list[float] = []
    for _ in range(ROUNDS):
        smalls.append(asyncio.run(postgres_rate(SMALL, seconds, "b8_small"))[0])
        larges.append(asyncio.run(postgres_rate(events, seconds, "b8_large"))[0])
    small, large = statistics.median(smalls), statistics.median(larges)
    result.add(f"commands/s at {SMALL:,} events (median of {ROUNDS})", small, "/s")
    result.add(f"commands/s at {events:,} events (median of {ROUNDS})", large, "/s")
    ratio = result.add("ratio large / small", large / small, "×")
    result.check("ratio ≥ 0.8", ratio >= 0.8)
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events, args.seconds), args.json)


if __name__ == "__main__":
    main()
