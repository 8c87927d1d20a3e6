"""Hold and processing statistics, computed at read time from small tables (pure).

- Per member: holds placed, holds active, total and median hold days (an active hold
  counts up to `now`).
- Per year: requests submitted that year; initial decisions taken that year (approved,
  refused) and the days from submission to that decision, median and mean. Decisions are
  counted in the year they were taken, as the committee's annual reports count them.
- Public aggregates: requests by year of submission and coarse status, and how many are
  pending beyond 30, 90 and 180 days. No member appears in them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any, Literal

from projections.holds import SECONDS_PER_DAY, Hold
from projections.request import PENDING_STATUSES

#: Derived status -> the coarse status the public may see (SPEC §7).
PUBLIC_STATUS = {
    "submitted": "submitted",
    "under_review": "pending",
    "on_hold": "pending",
    "awaiting_decision": "pending",
    "active": "active",
    "expired": "expired",
    "refused": "refused",
    "withdrawn": "withdrawn",
}

PENDING_THRESHOLDS_DAYS = (30, 90, 180)

#: Days are reported to this many decimals.
DAY_DECIMALS = 2

_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the statistics need to know of one request."""

    request_id: str
    submitted_at: datetime
    #: The derived status as of the `now` of the statistics.
    status: str
    #: When the initial procedure was decided, and how.
    decided_at: datetime | None = None
    outcome: Literal["approved", "refused"] | None = None

    def days_to_decision(self) -> float | None:
        if self.decided_at is None:
            return None
        return _days(self.decided_at - self.submitted_at)


def _days(delta: Any) -> float:
    return max(float(delta.total_seconds()), 0.0) / SECONDS_PER_DAY


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DAY_DECIMALS)


def hold_stats(holds: Iterable[Hold], now: datetime) -> list[dict[str, Any]]:
    """`{member, holds_placed, active_holds, total_hold_days, median_hold_days}` per member."""
    durations: dict[str, list[float]] = defaultdict(list)
    # totals summed exactly (timedeltas), then made days once: a sum of rounded days
    # depends on the order of the holds, and can round the other way at 2 decimals
    totals: dict[str, timedelta] = defaultdict(timedelta)
    active: Counter[str] = Counter()
    for hold in holds:
        days = hold.duration_days(now)
        durations[hold.member].append(days if days is not None else 0.0)
        until = hold.ended_at if hold.ended_at is not None else now
        totals[hold.member] += max(until - hold.placed_at, _ZERO)
        if hold.active:
            active[hold.member] += 1
    return [
        {
            "member": member,
            "holds_placed": len(days),
            "active_holds": active[member],
            "total_hold_days": _round(_days(totals[member])),
            "median_hold_days": _round(median(days)),
        }
        for member, days in sorted(durations.items())
    ]


def processing_stats(requests: Iterable[RequestFacts]) -> list[dict[str, Any]]:
    """`{year, submitted, approved, refused, median_days_to_decision,
    mean_days_to_decision}` per year, oldest first."""
    submitted: Counter[int] = Counter()
    approved: Counter[int] = Counter()
    refused: Counter[int] = Counter()
    days: dict[int, list[float]] = defaultdict(list)
    # the mean from the exact total, as for the holds' totals
    totals: dict[int, timedelta] = defaultdict(timedelta)
    for request in requests:
        submitted[request.submitted_at.year] += 1
        taken = request.days_to_decision()
        if request.decided_at is None or taken is None:
            continue
        year = request.decided_at.year
        if request.outcome == "approved":
            approved[year] += 1
        elif request.outcome == "refused":
            refused[year] += 1
        days[year].append(taken)
        totals[year] += max(request.decided_at - request.submitted_at, _ZERO)
    years = sorted(set(submitted) | set(days))
    return [
        {
            "year": year,
            "submitted": submitted[year],
            "approved": approved[year],
            "refused": refused[year],
            "median_days_to_decision": _round(median(days[year])) if days[year] else None,
            "mean_days_to_decision": _round(_days(totals[year]) / len(days[year]))
            if days[year]
            else None,
        }
        for year in years
    ]


def pending_over(requests: Iterable[RequestFacts], now: datetime) -> dict[str, int]:
    """How many requests have waited for their initial decision beyond each threshold."""
    waits = [
        _days(now - request.submitted_at)
        for request in requests
        if request.status in PENDING_STATUSES
    ]
    return {
        str(threshold): sum(1 for wait in waits if wait > threshold)
        for threshold in PENDING_THRESHOLDS_DAYS
    }


def status_counts(requests: Iterable[RequestFacts]) -> list[dict[str, Any]]:
    """`{year, status, count}` by year of submission and coarse public status."""
    counts: Counter[tuple[int, str]] = Counter(
        (request.submitted_at.year, PUBLIC_STATUS.get(request.status, "pending"))
        for request in requests
    )
    return [
        {"year": year, "status": status, "count": count}
        for (year, status), count in sorted(counts.items())
    ]


def public_stats(requests: Iterable[RequestFacts], now: datetime) -> dict[str, Any]:
    """The aggregates the public may see: no member, no request identity."""
    facts = list(requests)
    return {
        "as_of": now,
        "by_status_and_year": status_counts(facts),
        "pending_over_days": pending_over(facts, now),
        "years": processing_stats(facts),
    }
