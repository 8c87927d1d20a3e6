"""What the public and an applicant may see of a request (SPEC §7), as allow-lists.

Every public and applicant output of the service goes through this module: a request's
public record, the list of them, the aggregates over all requests, and an applicant's
view of its own. Each function builds a new dict from named safe fields of the state view
(read by `projections.view_values`, with the parts both records share in
`projections.record_parts`); nothing is copied wholesale, so a field added to the state
later stays private until someone names it here.

Never public: which member placed, released or let lapse a hold; members on reviews and
information requests; notes, reasons, questions, responses, justifications; actors and
tokens; anything of a confidential request before its approval. An applicant sees its own
request with `on_hold` and `information_pending` and the questions put to it, but no
member identity.

What a public record shows is drawn from the clear fields of SPEC §7.1 only
(`projections.record_sources`, which checks this on import). The events a receipt proves
(`receipt_events`) are the events of those types: a receipt proves what the page shows,
no more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from projections.record_parts import (
    applicant_of,
    approved_amendments,
    granted_extensions,
    items_of,
    shipments_of,
    total_value,
)
from projections.record_sources import RECEIPT_EVENT_TYPES
from projections.request import PENDING_STATUSES, STATUSES
from projections.stats import RequestFacts, public_stats
from projections.view_values import (
    View,
    approved_at,
    as_dicts,
    as_text,
    date_text,
    is_approved,
    parse_date,
    parse_time,
    procedure_named,
    time_text,
)

__all__ = [
    "PUBLIC_STATUSES",
    "applicant_request",
    "coarse_status",
    "end_of_last_day",
    "is_public",
    "last_public_change",
    "pending_over_time",
    "public_request",
    "public_requests",
    "public_statistics",
    "receipt_events",
]

#: Coarse statuses the public may see, in the order pages list them.
PUBLIC_STATUSES = ("submitted", "pending", "approved", "active", "expired", "refused", "withdrawn")
#: Circulated statuses of a request still waiting for its initial decision.
_PENDING = PENDING_STATUSES - {"submitted"}
#: Derived statuses an applicant sees (SPEC §3).
_APPLICANT_STATUSES = frozenset(STATUSES)


def receipt_events(view: View, events: Iterable[Any]) -> list[Any]:
    """The events of a request's stream (position order) that its receipt proves: none
    unless the public may see the request (`is_public`), else those of
    `RECEIPT_EVENT_TYPES`, the circulation of the initial procedure only, and none that a
    retraction took back (the record does not show them either)."""
    if not is_public(view):
        return []
    events = list(events)
    retracted = {e.data.get("target_position") for e in events if e.event_type == "EventRetracted"}
    return [
        e
        for e in events
        if e.event_type in RECEIPT_EVENT_TYPES
        and e.position not in retracted
        and (e.event_type != "RequestCirculated" or e.data.get("procedure") == "initial")
    ]


def _days_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max((end - start).days, 0)


def end_of_last_day(now: datetime) -> datetime:
    """The last microsecond of the last complete UTC day at `now`. A request still
    pending has its days counted up to it, so that the figure moves at midnight UTC with
    the statistics (SPEC §7), not at whatever hour the request was submitted."""
    moment = parse_time(now) or now
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC) - timedelta(microseconds=1)


# --- the public ----------------------------------------------------------------------------


def coarse_status(view: View, now: datetime) -> str:
    """`submitted`, `pending`, `approved` (not yet valid), `active`, `expired`, `refused`,
    `withdrawn`: every stage of review collapses into `pending`."""
    if is_approved(view):
        today = parse_time(now) or now
        start, end = parse_date(view.get("valid_from")), parse_date(view.get("valid_until"))
        if end is not None and today.date() > end:
            return "expired"
        if start is not None and today.date() < start:
            return "approved"
        return "active"
    status = view.get("status")
    if status in ("refused", "withdrawn", "submitted"):
        return str(status)
    if status in _PENDING:
        return "pending"
    return "pending" if procedure_named(view, "initial").get("circulated_at") else "submitted"


def _decided_at(view: View) -> datetime | None:
    status = view.get("status")
    if status == "withdrawn":
        return parse_time(view.get("withdrawn_at"))
    if status == "refused":
        return parse_time(
            view.get("refused_at") or procedure_named(view, "initial").get("decided_at")
        )
    if is_approved(view):
        return parse_time(approved_at(view))
    return None


def is_public(view: View) -> bool:
    """Approved, or submitted with `disclosure: public`."""
    return is_approved(view) or view.get("disclosure") == "public"


def public_request(view: View, now: datetime) -> dict[str, Any] | None:
    """The public record of a request, or None when the public may not see it."""
    if not is_public(view):
        return None
    status = coarse_status(view, now)
    submitted = parse_time(view.get("submitted_at"))
    decided = _decided_at(view)
    items = items_of(view.get("items"))
    record: dict[str, Any] = {
        "request_id": as_text(view.get("request_id")),
        "status": status,
        "applicant": applicant_of(view),
        "title": as_text(view.get("title")),
        "items": items,
        "total_value_usd": total_value(items),
        "submitted_at": time_text(submitted),
        "circulated_at": time_text(procedure_named(view, "initial").get("circulated_at")),
        "decided_at": time_text(decided),
        "days_pending": _days_between(submitted, decided or end_of_last_day(now)),
    }
    if is_approved(view):
        record.update(
            {
                "approved_at": approved_at(view),
                "valid_from": date_text(view.get("valid_from")),
                "valid_until": date_text(view.get("valid_until")),
                "letter_ref": as_text(view.get("letter_ref")),
                "extensions": granted_extensions(view),
                "amendments": approved_amendments(view),
                "shipments": shipments_of(view),
            }
        )
    record["updated"] = last_public_change(record)
    return record


def last_public_change(record: Mapping[str, Any]) -> str | None:
    """The latest date among the public facts of a record: a feed entry's `updated`.

    Taken from the public record only, so that it never moves on a confidential event."""
    moments = [
        parse_time(record.get(key))
        for key in ("submitted_at", "circulated_at", "decided_at", "approved_at")
    ]
    moments += [parse_time(e.get("granted_at")) for e in as_dicts(record.get("extensions"))]
    moments += [parse_time(a.get("approved_at")) for a in as_dicts(record.get("amendments"))]
    moments += [parse_time(s.get("shipped_on")) for s in as_dicts(record.get("shipments"))]
    present = [m for m in moments if m is not None]
    return time_text(max(present)) if present else None


def public_requests(views: Iterable[View], now: datetime) -> list[dict[str, Any]]:
    """Every public record, newest submission first."""
    records = [r for r in (public_request(v, now) for v in views) if r is not None]
    records.sort(key=lambda r: (r["submitted_at"] or "", r["request_id"] or ""), reverse=True)
    return records


# --- aggregates ------------------------------------------------------------------------------


def _facts(view: View, now: datetime) -> RequestFacts | None:
    submitted = parse_time(view.get("submitted_at"))
    if submitted is None:
        return None
    initial = procedure_named(view, "initial")
    outcome = initial.get("outcome")
    decided = parse_time(initial.get("decided_at")) if outcome in ("approved", "refused") else None
    if is_approved(view) and decided is None:
        decided, outcome = parse_time(view.get("approved_at")), "approved"
    status = str(view.get("status") or "submitted")
    coarse = coarse_status(view, now)
    if coarse in ("active", "expired"):
        status = coarse
    return RequestFacts(
        request_id=str(view.get("request_id") or ""),
        submitted_at=submitted,
        status=status,
        decided_at=decided,
        outcome=outcome if decided is not None and outcome in ("approved", "refused") else None,
    )


def _month_ends(start: date, end: date) -> list[date]:
    out = []
    year, month = start.year, start.month
    while True:
        nxt = date(year + month // 12, month % 12 + 1, 1)
        last = nxt - timedelta(days=1)
        if last >= end:
            out.append(end)
            return out
        out.append(last)
        year, month = nxt.year, nxt.month


def pending_over_time(views: Iterable[View], now: datetime) -> list[dict[str, Any]]:
    """How many requests waited for a decision at each month's end (and today)."""
    spans: list[tuple[datetime, datetime | None]] = []
    for view in views:
        submitted = parse_time(view.get("submitted_at"))
        if submitted is not None:
            spans.append((submitted, _decided_at(view)))
    if not spans:
        return []
    today = (parse_time(now) or now).date()
    first = min(s for s, _ in spans).date()
    points = []
    for day in _month_ends(first, max(today, first)):
        moment = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
        count = sum(1 for s, d in spans if s <= moment and (d is None or d > moment))
        points.append({"date": day.isoformat(), "pending": count})
    return points


def public_statistics(views: Iterable[View], now: datetime) -> dict[str, Any]:
    """Aggregates over every request (confidential ones included): counts by coarse status
    and year, processing times per year, pending beyond 30/90/180 days, pending per month.
    No member and no request identity appears in them."""
    views = list(views)
    facts = [f for f in (_facts(v, now) for v in views) if f is not None]
    base = public_stats(facts, now)
    by_status: dict[str, int] = dict.fromkeys(PUBLIC_STATUSES, 0)
    for view in views:
        by_status[coarse_status(view, now)] += 1
    return {
        "as_of": time_text(base.get("as_of", now)),
        "total": len(views),
        "by_status": by_status,
        "by_status_and_year": [
            {"year": int(e["year"]), "status": str(e["status"]), "count": int(e["count"])}
            for e in base.get("by_status_and_year", [])
        ],
        "years": [
            {
                "year": int(e["year"]),
                "submitted": int(e["submitted"]),
                "approved": int(e["approved"]),
                "refused": int(e["refused"]),
                "median_days_to_decision": e["median_days_to_decision"],
                "mean_days_to_decision": e["mean_days_to_decision"],
            }
            for e in base.get("years", [])
        ],
        "pending_over_days": {
            str(k): int(v) for k, v in dict(base.get("pending_over_days", {})).items()
        },
        "pending_over_time": pending_over_time(views, now),
    }


# --- the applicant -------------------------------------------------------------------------


def applicant_request(view: View) -> dict[str, Any]:
    """An applicant's view of its own request: the derived status (with `on_hold`), the
    questions put to it and its answers, holds as a count; no member identity, no note,
    no reason, no time of a hold (hidden events: it may know that the request is on
    hold, not since when, SPEC §7) and no log position (SPEC §9)."""
    status = view.get("status")
    holds = len(as_dicts(view.get("active_holds")))
    procedures = [
        {
            "name": as_text(p.get("name")),
            "opened_at": time_text(p.get("opened_at")),
            "circulated_at": time_text(p.get("circulated_at")),
            "deadline": time_text(p.get("deadline")),
            "expedited": p.get("expedited") if isinstance(p.get("expedited"), bool) else None,
            "decided_at": time_text(p.get("decided_at")),
            "outcome": as_text(p.get("outcome")),
        }
        for p in as_dicts(view.get("procedures"))
    ]
    questions = [
        {
            "questions": as_text(q.get("questions")),
            "requested_at": time_text(q.get("requested_at")),
            "answered_at": time_text(q.get("answered_at")),
            "response": as_text(q.get("response")),
        }
        for q in as_dicts(view.get("information_requests"))
    ]
    record: dict[str, Any] = {
        "request_id": as_text(view.get("request_id")),
        "status": status if status in _APPLICANT_STATUSES else None,
        "applicant": applicant_of(view),
        "title": as_text(view.get("title")),
        "purpose": as_text(view.get("purpose")),
        "beneficiaries": as_text(view.get("beneficiaries")),
        "items": items_of(view.get("items")),
        "disclosure": view.get("disclosure")
        if view.get("disclosure") == "public"
        else "confidential",
        "submitted_at": time_text(view.get("submitted_at")),
        "open_procedure": as_text(view.get("open_procedure")),
        "deadline": time_text(view.get("deadline")),
        "information_pending": bool(view.get("information_pending")),
        "on_hold": bool(holds) or status == "on_hold",
        "active_hold_count": holds,
        "procedures": procedures,
        "information_requests": questions,
        "approved_at": time_text(view.get("approved_at")),
        "valid_from": date_text(view.get("valid_from")),
        "valid_until": date_text(view.get("valid_until")),
        "letter_ref": as_text(view.get("letter_ref")),
        "shipments": shipments_of(view),
        "extensions": granted_extensions(view),
        "amendments": approved_amendments(view),
        "withdrawn_at": time_text(view.get("withdrawn_at")),
        "refused_at": time_text(view.get("refused_at")),
    }
    # the version its `If-Match` names; not the position (of the request's last event,
    # maybe a hidden one: it dates that event against the log)
    version = view.get("stream_version")
    if isinstance(version, int) and not isinstance(version, bool):
        record["stream_version"] = version
    return record
