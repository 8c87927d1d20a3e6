"""The hold and processing statistics as of a moment, aggregated in the database from the
bitemporal projection: counts, sums and the middle values of each group (window
functions, on both backends), turned into days as `projections.stats` does.

Read at the log's head (no `at_position`), the same figures come from 0009's partial
indexes without sorting what is in force (`projections.intervals.middles`).

Equal to `stats.hold_stats` / `stats.processing_stats` of a fold of the log to that
moment (`tests/projections/test_interval_queries.py`). Medians take the same middle
values; sums are summed exactly in integer microseconds, as the fold sums timedeltas,
and made days once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Subquery, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.schema import IntegerList
from projections.holds import SECONDS_PER_DAY
from projections.intervals.middles import head_in_force, middles
from projections.intervals.tables import hold_intervals, micros, request_status_intervals
from projections.stats import DAY_DECIMALS

__all__ = [
    "hold_stats_at_head",
    "hold_stats_in_db",
    "processing_stats_at_head",
    "processing_stats_in_db",
]

_H = hold_intervals.c
_S = request_status_intervals.c


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


def _members(
    totals: Sequence[tuple[str, int, int, int]], middle: Mapping[str, list[int]]
) -> list[dict[str, Any]]:
    """The items of the hold statistics from (member, placed, active, total us)."""
    return [
        {
            "member": member,
            "holds_placed": placed,
            "active_holds": active,
            "total_hold_days": _round(_days(total)),
            "median_hold_days": _round(_median(middle[member])),
        }
        for member, placed, active, total in sorted(totals)
    ]


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
    middle = await _middles(conn, c.member, duration)
    return _members(
        [
            (member, int(placed), int(active or 0), int(total or 0))
            for member, placed, active, total in (await conn.execute(totals)).all()
        ],
        middle,
    )


async def hold_stats_at_head(
    conn: AsyncConnection, active: Subquery, at: datetime
) -> list[dict[str, Any]]:
    """`hold_stats_in_db` of the head's holds in force at `at`: the ended ones counted,
    summed and walked in `ix_hold_intervals_ended`; the `active` ones (member,
    placed_us: few, read from `ix_hold_intervals_active`) counted up to `at`."""
    ended = [_H.recorded_to.is_(None), _H.ended_us.is_not(None), _H.ended_us <= micros(at)]
    by_member = select(_H.member, func.count(), func.sum(_H.held_us)).where(*ended)
    fixed = {
        str(member): (int(n), int(total or 0))
        for member, n, total in (await conn.execute(by_member.group_by(_H.member))).all()
    }
    at_us = micros(at)
    moving: dict[str, list[int]] = {}
    c = active.c
    placed = select(c.member, IntegerList(c.placed_us)).group_by(c.member)
    for member, values in (await conn.execute(placed)).all():
        moving[str(member)] = [at_us - v for v in values]
    counts = {member: n for member, (n, _) in fixed.items()}
    middle = await middles(conn, _H.member, _H.held_us, ended, counts, moving)
    totals = []
    for member in set(fixed) | set(moving):
        n, total = fixed.get(member, (0, 0))
        running = moving.get(member, [])
        totals.append((member, n + len(running), len(running), total + sum(running)))
    return _members(totals, middle)


def _years(
    submitted: Mapping[int, int],
    decisions: Sequence[tuple[int, str, int, int]],
    middle: Mapping[int, list[int]],
) -> list[dict[str, Any]]:
    """The items of the processing statistics from the requests submitted per year and
    the (year, outcome, count, total us) of the decisions."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"approved": 0, "refused": 0})
    sums: dict[int, tuple[int, int]] = {}
    for year, outcome, count, total in decisions:
        counts[year][outcome] = count
        n, s = sums.get(year, (0, 0))
        sums[year] = (n + count, s + total)
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
                "median_days_to_decision": _round(_median(middle[year])) if n else None,
                "mean_days_to_decision": _round(_days(total) / n) if n else None,
            }
        )
    return out


def _decisions(rows: Sequence[Any]) -> list[tuple[int, str, int, int]]:
    return [(int(year), str(outcome), int(n), int(total or 0)) for year, outcome, n, total in rows]


async def processing_stats_in_db(conn: AsyncConnection, rows: Subquery) -> list[dict[str, Any]]:
    """`stats.processing_stats` of the status rows `rows` (submitted_year, decided_year,
    outcome, decision_us)."""
    c = rows.c
    by_year = select(c.submitted_year, func.count()).group_by(c.submitted_year)
    submitted = {int(year): int(count) for year, count in (await conn.execute(by_year)).all()}
    decided = c.decided_year.is_not(None)
    decisions = await conn.execute(
        select(c.decided_year, c.outcome, func.count(), func.sum(c.decision_us))
        .where(decided)
        .group_by(c.decided_year, c.outcome)
    )
    middle = await _middles(conn, c.decided_year, c.decision_us, decided)
    return _years(submitted, _decisions(decisions.all()), middle)


async def processing_stats_at_head(conn: AsyncConnection, at: datetime) -> list[dict[str, Any]]:
    """`processing_stats_in_db` of the head's status rows in force at `at`: at the head a
    request's rows cover its business time from its submission on, one at a time, so
    those in force are one per request submitted by `at`, counted per year by the row
    that begins at the submission (`ix_request_status_intervals_submitted`); the
    decisions counted, summed and walked in `ix_request_status_intervals_decisions`."""
    first = [_S.recorded_to.is_(None), _S.valid_from == _S.submitted_at, _S.submitted_at <= at]
    by_year = select(_S.submitted_year, func.count()).where(*first).group_by(_S.submitted_year)
    submitted = {int(year): int(count) for year, count in (await conn.execute(by_year)).all()}
    decided = [*head_in_force(_S, at), _S.decided_year.is_not(None)]
    found = await conn.execute(
        select(_S.decided_year, _S.outcome, func.count(), func.sum(_S.decision_us))
        .where(*decided)
        .group_by(_S.decided_year, _S.outcome)
    )
    decisions = _decisions(found.all())
    counts: dict[int, int] = defaultdict(int)
    for year, _, n, _ in decisions:
        counts[year] += n
    middle = await middles(conn, _S.decided_year, _S.decision_us, decided, counts, {})
    return _years(submitted, decisions, middle)
