"""Hold and processing statistics from plain rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from projections.holds import Hold
from projections.stats import (
    RequestFacts,
    hold_stats,
    pending_over,
    processing_stats,
    public_stats,
    status_counts,
)

NOW = datetime(2026, 2, 5, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def hold(member: str, placed: float, ended: float | None = None, end: Any = None) -> Hold:
    return Hold(
        position=int(placed * 1000),
        request_id="R",
        procedure="initial",
        member=member,
        placed_at=ago(placed),
        ended_at=ago(ended) if ended is not None else None,
        end=end if ended is not None else None,
    )


def test_hold_stats_per_member() -> None:
    holds = [
        hold("USA", 100, 90, "released"),  # 10 days
        hold("USA", 50),  # active: 50 days
        hold("USA", 30, 26, "lapsed"),  # 4 days
        hold("CHN", 7.5),  # active
    ]
    assert hold_stats(holds, NOW) == [
        {
            "member": "CHN",
            "holds_placed": 1,
            "active_holds": 1,
            "total_hold_days": 7.5,
            "median_hold_days": 7.5,
        },
        {
            "member": "USA",
            "holds_placed": 3,
            "active_holds": 1,
            "total_hold_days": 64.0,
            "median_hold_days": 10.0,
        },
    ]


def test_hold_stats_of_nothing() -> None:
    assert hold_stats([], NOW) == []


def request(
    submitted: datetime,
    status: str,
    decided: datetime | None = None,
    outcome: Any = None,
) -> RequestFacts:
    return RequestFacts("R", submitted, status, decided, outcome)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def test_processing_stats_count_decisions_in_the_year_taken() -> None:
    requests = [
        request(at(2018, 1, 1), "expired", at(2018, 4, 11), "approved"),  # 100 days
        request(at(2018, 12, 1), "expired", at(2019, 1, 10), "approved"),  # 40 days
        request(at(2019, 2, 1), "refused", at(2019, 2, 21), "refused"),  # 20 days
        request(at(2019, 3, 1), "expired", at(2019, 3, 11), "approved"),  # 10 days
        request(at(2019, 5, 1), "on_hold"),
        request(at(2019, 6, 1), "withdrawn"),
    ]
    assert processing_stats(requests) == [
        {
            "year": 2018,
            "submitted": 2,
            "approved": 1,
            "refused": 0,
            "median_days_to_decision": 100.0,
            "mean_days_to_decision": 100.0,
        },
        {
            "year": 2019,
            "submitted": 4,
            "approved": 2,
            "refused": 1,
            "median_days_to_decision": 20.0,
            "mean_days_to_decision": 23.33,
        },
    ]


def test_pending_over_thresholds() -> None:
    requests = [
        request(ago(10), "submitted"),
        request(ago(31), "under_review"),
        request(ago(95), "awaiting_decision"),
        request(ago(200), "on_hold"),
        request(ago(400), "active", ago(300), "approved"),
        request(ago(400), "withdrawn"),
    ]
    assert pending_over(requests, NOW) == {"30": 3, "90": 2, "180": 1}


def test_status_counts_use_coarse_public_statuses() -> None:
    requests = [
        request(at(2025, 1, 1), "on_hold"),
        request(at(2025, 2, 1), "under_review"),
        request(at(2025, 2, 1), "submitted"),
        request(at(2025, 3, 1), "active", at(2025, 4, 1), "approved"),
        request(at(2026, 1, 1), "awaiting_decision"),
    ]
    assert status_counts(requests) == [
        {"year": 2025, "status": "active", "count": 1},
        {"year": 2025, "status": "pending", "count": 2},
        {"year": 2025, "status": "submitted", "count": 1},
        {"year": 2026, "status": "pending", "count": 1},
    ]


def test_public_stats_name_no_member_or_request() -> None:
    stats = public_stats([request(ago(100), "on_hold")], NOW)
    assert stats["pending_over_days"] == {"30": 1, "90": 1, "180": 0}
    assert "R" not in repr(stats["by_status_and_year"])
