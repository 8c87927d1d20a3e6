"""The hold and processing statistics as of a moment, aggregated in the database from the
bitemporal projection: counts, sums and the middle values of each group (window
functions, on both backends), turned into days as `projections.stats` does.

Equal to `stats.hold_stats` / `stats.processing_stats` of a fold of the log to that
moment (`tests/projections/test_interval_queries.py`). Medians take the same middle
values; sums are summed exactly in integer microseconds (the fold sums rounded days),
which can differ from the fold's in the last bits only, below the 2 decimals shown.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select, Subquery, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.holds import SECONDS_PER_DAY
from projections.interval_tables import micros
from projections.stats import DAY_DECIMALS

__all__ = ["hold_stats_in_db", "processing_stats_in_db"]


def _days(us: int) -> float:
    # as `timedelta.total_seconds() / SECONDS_PER_DAY` of that many microseconds
    return max(us / 10**6, 0.0) / SECONDS_PER_DAY


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DAY_DECIMALS)


async def _middles(
    conn: AsyncConnection, group: Any, value: Any, *where: Any
) -> dict[Any, list[int]]:
    """The one or two middle values of `value` in each `group` (what `median` takes)."""
    ranked = (
        select(
            group.label("g"),
            value.label("v"),
            func.row_number().over(partition_by=group, order_by=value).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(*where)
        .subquery()
    )
    query = select(ranked.c.g, ranked.c.v).where(
        or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    )
    found: dict[Any, list[int]] = defaultdict(list)
    for g, v in (await conn.execute(query.order_by(ranked.c.g, ranked.c.v))).all():
        found[g].append(int(v))
    return found


def _median(middle: list[int]) -> float:
    if len(middle) == 1:
        return _days(middle[0])
    return (_days(middle[0]) + _days(middle[1])) / 2


async def hold_stats_in_db(conn: AsyncConnection, rows: Subquery, at: Any) -> list[dict[str, Any]]:
    """`stats.hold_stats` of the hold rows `rows` (member, placed_us, ended_us),
    durations counted up to `at`."""
    c = rows.c
    duration = func.coalesce(c.ended_us, micros(at)) - c.placed_us
    totals: Select[Any] = select(
        c.member,
        func.count(),
        func.sum(case((c.ended_us.is_(None), 1), else_=0)),
        func.sum(duration),
    ).group_by(c.member)
    middles = await _middles(conn, c.member, duration)
    return [
        {
            "member": member,
            "holds_placed": int(placed),
            "active_holds": int(active or 0),
            "total_hold_days": _round(_days(int(total or 0))),
            "median_hold_days": _round(_median(middles[member])),
        }
        for member, placed, active, total in sorted((await conn.execute(totals)).all())
    ]


async def processing_stats_in_db(conn: AsyncConnection, rows: Subquery) -> list[dict[str, Any]]:
    """`stats.processing_stats` of the status rows `rows` (submitted_year, decided_year,
    outcome, decision_us)."""
    c = rows.c
    by_year = select(c.submitted_year, func.count()).group_by(c.submitted_year)
    submitted = {int(year): int(count) for year, count in (await conn.execute(by_year)).all()}
    decided = c.decided_year.is_not(None)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"approved": 0, "refused": 0})
    sums: dict[int, tuple[int, int]] = {}
    decisions = await conn.execute(
        select(c.decided_year, c.outcome, func.count(), func.sum(c.decision_us))
        .where(decided)
        .group_by(c.decided_year, c.outcome)
    )
    for year, outcome, count, total in decisions.all():
        counts[int(year)][str(outcome)] = int(count)
        n, s = sums.get(int(year), (0, 0))
        sums[int(year)] = (n + int(count), s + int(total or 0))
    middles = await _middles(conn, c.decided_year, c.decision_us, decided)
    years = sorted(set(submitted) | set(sums))
    out = []
    for year in years:
        n, total = sums.get(year, (0, 0))
        out.append(
            {
                "year": year,
                "submitted": submitted.get(year, 0),
                "approved": counts[year]["approved"] if year in counts else 0,
                "refused": counts[year]["refused"] if year in counts else 0,
                "median_days_to_decision": _round(_median(middles[year])) if n else None,
                "mean_days_to_decision": _round(_days(total) / n) if n else None,
            }
        )
    return out
