"""Server-rendered public pages (Jinja2): pure functions from public records to HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from projections.public import PUBLIC_STATUSES
from service.public import svg

Record = Mapping[str, Any]

STATUS_LABELS = {
    "submitted": "Submitted",
    "pending": "Pending",
    "approved": "Approved, not yet valid",
    "active": "Active",
    "expired": "Expired",
    "refused": "Refused",
    "withdrawn": "Withdrawn",
}

_env = Environment(
    loader=PackageLoader("service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _money(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"USD {value:,.0f}" if float(value).is_integer() else f"USD {value:,.2f}"
    return "—"


def _day(value: Any) -> str:
    return str(value)[:10] if value else "—"


def _number(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return "—"


_env.filters["money"] = _money
_env.filters["day"] = _day
_env.filters["number"] = _number
_env.globals["STATUS_LABELS"] = STATUS_LABELS


def render_index(
    records: Sequence[Record],
    *,
    status: str | None,
    year: int | None,
    q: str | None,
    years: Sequence[int],
    total: int,
    next_cursor: str | None,
) -> str:
    """The list of public exemptions with its filter form."""
    next_url = None
    if next_cursor:
        params = {k: v for k, v in (("status", status), ("year", year), ("q", q)) if v}
        next_url = "/?" + urlencode({**params, "cursor": next_cursor})
    return _env.get_template("index.html").render(
        records=records,
        status=status or "",
        year=year,
        q=q or "",
        years=years,
        statuses=PUBLIC_STATUSES,
        total=total,
        next_url=next_url,
        title="Humanitarian exemptions",
    )


def render_request(record: Record, now: datetime, *, witnessed: bool = False) -> str:
    """One public record: its facts, a timeline picture and the same dates as a list, and
    its receipt checked in the reader's browser (`witnessed`: ask for the witnesses'
    cosignatures as the policy at `/public/log/witnesses` says)."""
    return _env.get_template("request.html").render(
        r=record,
        witnessed=witnessed,
        timeline=svg.timeline(record, now),
        milestones=svg.milestones(record, now),
        title=f"{record.get('request_id')}: {record.get('title')}",
    )


def render_stats(
    stats: Mapping[str, Any], *, as_of: str | None = None, latest: str | None = None
) -> str:
    """Charts of processing times and pending counts, with tables as their alternative;
    `as_of`, the day (YYYY-MM-DD) asked for, if not the default (the end of yesterday);
    `latest`, the last day the form may ask for."""
    years = list(stats.get("years") or ())
    processing = svg.bar_chart(
        "processing",
        "Median days from submission to decision, by year of decision",
        [(str(y["year"]), y.get("median_days_to_decision")) for y in years],
        "days",
    )
    points = [
        (date.fromisoformat(p["date"]), int(p["pending"]))
        for p in stats.get("pending_over_time") or ()
    ]
    pending = svg.line_chart(
        "pending", "Requests waiting for a decision at the end of each month", points, "requests"
    )
    status_years = sorted({e["year"] for e in stats.get("by_status_and_year") or ()}, reverse=True)
    grid: dict[int, dict[str, int]] = {y: {} for y in status_years}
    for entry in stats.get("by_status_and_year") or ():
        grid[entry["year"]][entry["status"]] = entry["count"]
    shown = [s for s in PUBLIC_STATUSES if any(s in row for row in grid.values())]
    return _env.get_template("stats.html").render(
        stats=stats,
        years=years,
        processing_chart=processing,
        pending_chart=pending,
        pending_points=points,  # every point of the chart: the table is its text alternative
        grid=grid,
        grid_statuses=shown,
        as_of=as_of,
        latest=latest,
        title="Statistics" if as_of is None else f"Statistics at the end of {as_of}",
    )


def render_bad_day(as_of: str, reason: str) -> str:
    """The 400 page of `/stats?as_of=` naming no day, or one out of bounds (`reason`)."""
    return _env.get_template("bad_day.html").render(
        as_of=as_of, reason=reason, title="No statistics for that day"
    )


def render_not_found(request_id: str) -> str:
    return _env.get_template("not_found.html").render(request_id=request_id, title="Not found")


def inline(markup: str) -> Markup:
    return Markup(markup)
