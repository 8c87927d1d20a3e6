"""Inline SVG pictures of public records and statistics (pure; text alternatives inside).

Each picture has `role="img"` and a short name (`aria-label`, the same as its <title>); its
<desc> says where the facts are: the pages show them as a list or table beside it, so that a
screen reader reads them once, there, and not again in the picture's name (WCAG 1.1.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from projections.view_values import parse_date, parse_time

WIDTH = 800
DATES_BESIDE = "The same dates are listed beside the picture."
FIGURES_BESIDE = "The same figures are in the table beside the chart."
LEFT = 110
RIGHT = 44
PLOT = WIDTH - LEFT - RIGHT

# Colours chosen for contrast on white (WCAG AA for the text colours).
INK = "#1b1f24"
MUTED = "#4a5560"
PENDING = "#b35c00"
REVIEW = "#0b5cad"
VALID = "#1d7a46"
EXTENDED = "#5fae7f"
SHIPMENT = "#6a3fa0"
GRID = "#d5dae0"


@dataclass(frozen=True, slots=True)
class Milestone:
    """A dated fact of the timeline, also shown as a list item."""

    day: date
    label: str


def _fmt(day: date) -> str:
    return day.isoformat()


def _x(day: date, start: date, end: date) -> float:
    span = max((end - start).days, 1)
    return LEFT + PLOT * (day - start).days / span


def _ticks(start: date, end: date) -> list[date]:
    """Month starts between start and end, thinned to at most ~10 ticks."""
    months = []
    cursor = date(start.year, start.month, 1)
    while cursor <= end:
        if cursor >= start:
            months.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    step = max(1, -(-len(months) // 10))
    return months[::step]


def _days(moment: Any) -> date | None:
    parsed = parse_time(moment)
    return parsed.date() if parsed is not None else parse_date(moment)


def milestones(record: Mapping[str, Any], now: datetime) -> list[Milestone]:
    """The public dates of a record, in order: what the timeline draws."""
    out: list[Milestone] = []

    def add(value: Any, label: str) -> None:
        day = _days(value)
        if day is not None:
            out.append(Milestone(day, label))

    add(record.get("submitted_at"), "Submitted")
    add(record.get("circulated_at"), "Circulated to the committee")
    status = record.get("status")
    if record.get("approved_at"):
        add(record.get("approved_at"), "Approved")
        add(record.get("valid_from"), "Valid from")
    elif status == "refused":
        add(record.get("decided_at"), "Refused")
    elif status == "withdrawn":
        add(record.get("decided_at"), "Withdrawn")
    for extension in record.get("extensions") or ():
        add(extension.get("granted_at"), f"Extension granted until {extension.get('valid_until')}")
    for amendment in record.get("amendments") or ():
        add(amendment.get("approved_at"), "Amendment approved")
    for shipment in record.get("shipments") or ():
        add(shipment.get("shipped_on"), f"Shipment {shipment.get('shipment_no')}")
    if record.get("approved_at"):
        add(record.get("valid_until"), "Valid until")
    return sorted(out, key=lambda m: m.day)


def timeline(record: Mapping[str, Any], now: datetime) -> Markup:
    """The life of a request: the pending period, the validity window, shipments."""
    rid = escape(str(record.get("request_id") or "request"))
    today = now.astimezone(UTC).date()
    submitted = _days(record.get("submitted_at")) or today
    decided = _days(record.get("decided_at"))
    valid_from = parse_date(record.get("valid_from"))
    valid_until = parse_date(record.get("valid_until"))
    extensions = list(record.get("extensions") or ())
    points = [m.day for m in milestones(record, now)] + [submitted]
    end = max([*points, today if decided is None else submitted])
    start = min(points)
    pad = max((end - start).days // 20, 3)
    start, end = start - timedelta(days=pad), end + timedelta(days=pad)

    lanes: list[str] = []
    lane_y = {"review": 40, "validity": 100, "shipments": 160}
    height = 230

    def label(y: int, text: str) -> str:
        return (
            f'<text x="{LEFT - 10}" y="{y + 5}" text-anchor="end" fill="{INK}" '
            f'font-size="14">{escape(text)}</text>'
        )

    def bar(a: date, b: date, y: int, colour: str, title: str, dashed: bool = False) -> str:
        x1, x2 = _x(a, start, end), _x(b, start, end)
        pattern = ' stroke-dasharray="6 4" fill-opacity="0.35"' if dashed else ""
        return (
            f'<rect x="{x1:.1f}" y="{y - 10}" width="{max(x2 - x1, 3):.1f}" height="20" '
            f'rx="4" fill="{colour}" stroke="{colour}"{pattern}>'
            f"<title>{escape(title)}</title></rect>"
        )

    def dot(day: date, y: int, colour: str, title: str) -> str:
        return (
            f'<circle cx="{_x(day, start, end):.1f}" cy="{y}" r="7" fill="#fff" '
            f'stroke="{colour}" stroke-width="3"><title>{escape(title)}</title></circle>'
        )

    # grid and axis
    grid = []
    for tick in _ticks(start, end):
        x = _x(tick, start, end)
        grid.append(
            f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{height - 40}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{height - 20}" text-anchor="middle" fill="{MUTED}" '
            f'font-size="12">{tick.strftime("%b %Y")}</text>'
        )
    x_today = _x(today, start, end)
    if start <= today <= end:
        grid.append(
            f'<line x1="{x_today:.1f}" y1="20" x2="{x_today:.1f}" y2="{height - 40}" '
            f'stroke="{INK}" stroke-dasharray="2 3"/>'
            f'<text x="{x_today:.1f}" y="16" text-anchor="middle" fill="{INK}" '
            f'font-size="12">today</text>'
        )

    # review lane: from submission to decision (or today), without any detail of holds
    y = lane_y["review"]
    lanes.append(label(y, "Review"))
    review_end = decided or today
    circulated = _days(record.get("circulated_at"))
    pending_text = f"Pending {max((review_end - submitted).days, 0)} days"
    lanes.append(
        bar(
            submitted,
            review_end,
            y,
            PENDING if decided is None else REVIEW,
            pending_text,
            dashed=decided is None,
        )
    )
    lanes.append(dot(submitted, y, REVIEW, f"Submitted {_fmt(submitted)}"))
    if circulated is not None:
        lanes.append(dot(circulated, y, REVIEW, f"Circulated {_fmt(circulated)}"))
    if decided is not None:
        lanes.append(
            dot(
                decided,
                y,
                VALID if record.get("approved_at") else MUTED,
                f"Decided {_fmt(decided)}",
            )
        )

    # validity lane
    y = lane_y["validity"]
    lanes.append(label(y, "Validity"))
    if valid_from is not None and valid_until is not None:
        lanes.append(
            bar(
                valid_from,
                valid_until,
                y,
                VALID,
                f"Valid {_fmt(valid_from)} to {_fmt(valid_until)}",
            )
        )
        for extension in extensions:
            granted = _days(extension.get("granted_at"))
            if granted is not None:
                until = extension.get("valid_until")
                lanes.append(
                    dot(granted, y, EXTENDED, f"Extension granted {_fmt(granted)}, until {until}")
                )
    else:
        lanes.append(
            f'<text x="{LEFT + 6}" y="{y + 5}" fill="{MUTED}" font-size="13">not approved</text>'
        )

    # shipments lane
    y = lane_y["shipments"]
    lanes.append(label(y, "Shipments"))
    shipments = list(record.get("shipments") or ())
    for shipment in shipments:
        day = parse_date(shipment.get("shipped_on"))
        if day is None:
            continue
        x = _x(day, start, end)
        lanes.append(
            f'<path d="M{x:.1f},{y - 9} l9,9 l-9,9 l-9,-9 z" fill="{SHIPMENT}">'
            f"<title>Shipment {escape(str(shipment.get('shipment_no')))} on {_fmt(day)}</title>"
            "</path>"
        )
    if not shipments:
        lanes.append(
            f'<text x="{LEFT + 6}" y="{y + 5}" fill="{MUTED}" font-size="13">none recorded</text>'
        )

    title = f"Timeline of request {rid}"
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{title}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">'
        f"<title>{title}</title>"
        f"<desc>{DATES_BESIDE if milestones(record, now) else 'No dates recorded.'}</desc>"
        f"{''.join(grid)}{''.join(lanes)}</svg>"
    )


def bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float | None]],
    unit: str,
    colour: str = REVIEW,
) -> Markup:
    """Vertical bars, one per row (label, value); None draws nothing and says so."""
    height, top, bottom = 260, 24, 40
    values = [v for _, v in rows if v is not None]
    peak = max(values, default=0) or 1
    slot = PLOT / max(len(rows), 1)
    bars = []
    for i, (name, value) in enumerate(rows):
        x = LEFT + i * slot + slot * 0.2
        width = slot * 0.6
        cx = x + width / 2
        bars.append(
            f'<text x="{cx:.1f}" y="{height - bottom + 20}" text-anchor="middle" '
            f'fill="{INK}" font-size="13">{escape(name)}</text>'
        )
        if value is None:
            bars.append(
                f'<text x="{cx:.1f}" y="{height - bottom - 6}" text-anchor="middle" '
                f'fill="{MUTED}" font-size="12">no decisions</text>'
            )
            continue
        h = (height - top - bottom) * value / peak
        y = height - bottom - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{max(h, 1):.1f}" '
            f'fill="{colour}"><title>{escape(name)}: {value:g} {escape(unit)}</title></rect>'
            f'<text x="{cx:.1f}" y="{y - 6:.1f}" text-anchor="middle" fill="{INK}" '
            f'font-size="13">{value:g}</text>'
        )
    axis = (
        f'<line x1="{LEFT}" y1="{height - bottom}" x2="{WIDTH - RIGHT}" y2="{height - bottom}" '
        f'stroke="{MUTED}"/>'
        f'<text x="{LEFT - 10}" y="{top + 10}" text-anchor="end" fill="{MUTED}" '
        f'font-size="12">{peak:g} {escape(unit)}</text>'
        f'<text x="{LEFT - 10}" y="{height - bottom}" text-anchor="end" fill="{MUTED}" '
        f'font-size="12">0</text>'
    )
    return _frame(chart_id, title, bool(rows), height, axis + "".join(bars))


def line_chart(chart_id: str, title: str, points: Sequence[tuple[date, int]], unit: str) -> Markup:
    """A step line of a count over time (e.g. requests pending at each month's end)."""
    height, top, bottom = 260, 24, 40
    if not points:
        return _frame(chart_id, title, False, height, "")
    start, end = points[0][0], points[-1][0]
    if start == end:
        start -= timedelta(days=15)
    peak = max(v for _, v in points) or 1

    def y(value: int) -> float:
        return height - bottom - (height - top - bottom) * value / peak

    path = []
    for i, (day, value) in enumerate(points):
        x = _x(day, start, end)
        path.append(f"{'M' if i == 0 else 'L'}{x:.1f},{y(value):.1f}")
    dots = "".join(
        f'<circle cx="{_x(d, start, end):.1f}" cy="{y(v):.1f}" r="4" fill="{PENDING}">'
        f"<title>{_fmt(d)}: {v} {escape(unit)}</title></circle>"
        for d, v in points
    )
    ticks = "".join(
        f'<text x="{_x(t, start, end):.1f}" y="{height - bottom + 20}" text-anchor="middle" '
        f'fill="{MUTED}" font-size="12">{t.strftime("%b %Y")}</text>'
        for t in _ticks(start, end)
    )
    axis = (
        f'<line x1="{LEFT}" y1="{height - bottom}" x2="{WIDTH - RIGHT}" y2="{height - bottom}" '
        f'stroke="{MUTED}"/>'
        f'<line x1="{LEFT}" y1="{y(peak):.1f}" x2="{WIDTH - RIGHT}" y2="{y(peak):.1f}" '
        f'stroke="{GRID}"/>'
        f'<text x="{LEFT - 10}" y="{y(peak) + 4:.1f}" text-anchor="end" fill="{MUTED}" '
        f'font-size="12">{peak} {escape(unit)}</text>'
        f'<text x="{LEFT - 10}" y="{height - bottom}" text-anchor="end" fill="{MUTED}" '
        f'font-size="12">0</text>'
    )
    line = (
        f'<path d="{" ".join(path)}" fill="none" stroke="{PENDING}" stroke-width="3" '
        'stroke-linejoin="round"/>'
    )
    return _frame(chart_id, title, True, height, axis + ticks + line + dots)


def _frame(chart_id: str, title: str, has_data: bool, height: int, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" data-chart="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        'role="img" '
        f'aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">'
        f"<title>{escape(title)}</title>"
        f"<desc>{FIGURES_BESIDE if has_data else 'No data yet.'}</desc>{body}</svg>"
    )
