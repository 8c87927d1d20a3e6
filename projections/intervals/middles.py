"""The hold and processing statistics as of a business time at the log's head, without
sorting what is in force then (0009's partial indexes).

The middle values of a group are what `median` takes: the one or two values of rank
`(n + 1) // 2` and `n // 2 + 1`. A group's values are *fixed* ones, kept in an index in
value order (an ended hold's `held_us`, a decision's `decision_us`), and a few *moving*
ones, known only at the moment (an active hold's `at - placed_us`), read apart. The
k-th smallest of both uses `i` moving values and `k - i` fixed ones for some `i` in
`[0, moving]`, so only the fixed values of ranks `k - moving` to `k + 1` can take part:
the index is walked in value order to there (OFFSET, index-only, no sort) and the split
found in memory. Counts and sums come from the same index in one pass.

Equal to `interval_stats` on the same rows (`tests/projections/test_interval_queries.py`
checks both against a fold of the log).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Subquery, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["head_in_force", "middles", "window"]


def head_in_force(c: Any, at: Any) -> list[ColumnElement[bool]]:
    """The head's rows in force at business time `at`."""
    return [c.recorded_to.is_(None), c.valid_from <= at, or_(c.valid_to.is_(None), c.valid_to > at)]


def window(fixed: int, moving: int) -> tuple[int, int] | None:
    """The ranks (1-based, inclusive) of the fixed values that can be a middle value of a
    group of `fixed` fixed and `moving` moving values; None when there are none."""
    n = fixed + moving
    low, high = (n + 1) // 2, n // 2 + 1
    first, last = max(low - moving, 1), min(high + 1, fixed)
    return (first, last) if fixed and first <= last else None


def _kth(k: int, fixed: int, first: int, shown: Sequence[int], moving: Sequence[int]) -> int:
    """The k-th smallest (1-based) of `fixed` fixed values, of which `shown` are those of
    ranks `first...`, and the sorted `moving` ones."""

    def f(rank: int) -> float:
        if rank < 1:
            return float("-inf")
        if rank > fixed:
            return float("inf")
        return shown[rank - first]

    def m(rank: int) -> float:
        if rank < 1:
            return float("-inf")
        if rank > len(moving):
            return float("inf")
        return moving[rank - 1]

    for i in range(max(0, k - fixed), min(len(moving), k) + 1):
        # the k smallest are the k - i smallest fixed values and the i smallest moving
        if f(k - i) <= m(i + 1) and m(i) <= f(k - i + 1):
            return int(max(f(k - i), m(i)))
    raise AssertionError(f"no split of rank {k} in {fixed} fixed and {len(moving)} moving")


async def middles(
    conn: AsyncConnection,
    group: Any,
    value: Any,
    where: Sequence[ColumnElement[bool]],
    fixed: Mapping[Any, int],
    moving: Mapping[Any, list[int]],
) -> dict[Any, list[int]]:
    """The middle values of each group: `fixed[g]` rows meet `where` with `group == g`,
    whose `value`s an index gives in order; `moving[g]` the group's other values."""
    walks: list[Any] = []
    firsts: dict[Any, int] = {}
    for g in set(fixed) | set(moving):
        ranks = window(fixed.get(g, 0), len(moving.get(g, ())))
        if ranks is None:
            continue
        first, last = ranks
        firsts[g] = first
        walk: Subquery = (
            select(value.label("v"))
            .where(*where, group == g)
            .order_by(value)
            .offset(first - 1)
            .limit(last - first + 1)
            .subquery()
        )
        walks.append(select(literal(g).label("g"), walk.c.v))
    shown: dict[Any, list[int]] = defaultdict(list)
    if walks:
        query: Any = walks[0] if len(walks) == 1 else union_all(*walks)
        for g, v in (await conn.execute(query)).all():
            shown[g].append(int(v))
    found: dict[Any, list[int]] = {}
    for g in set(fixed) | set(moving):
        values = sorted(moving.get(g, ()))
        n_fixed = fixed.get(g, 0)
        n = n_fixed + len(values)
        if n == 0:
            continue
        middle_ranks = sorted({(n + 1) // 2, n // 2 + 1})
        found[g] = [
            _kth(k, n_fixed, firsts.get(g, 1), sorted(shown[g]), values) for k in middle_ranks
        ]
    return found
