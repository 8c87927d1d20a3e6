"""What the public and an applicant may see of a request (SPEC §7), as allow-lists.

Every public and applicant output of the service goes through this module. Each function
builds a new dict from named safe fields of the state view; nothing is copied wholesale, so
a field added to the state later stays private until someone names it here.

Never public: which member placed, released or let lapse a hold; members on reviews and
information requests; notes, reasons, questions, responses, justifications; actors and
tokens; anything of a confidential request before its approval. An applicant sees its own
request with `on_hold` and `information_pending` and the questions put to it, but no
member identity.

What a public record shows is drawn from the clear fields of SPEC §7.1 only:
`RECORD_SOURCES` names, for each field of a public record, the events and the fields of
their `data` it is made of, and importing this module checks each against
`events.disclosure.public_fields` (the table the leaf hash splits on). The events a
receipt proves (`receipt_events`) are the events of those types: a receipt proves what
the page shows, no more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from events.disclosure import public_fields
from projections.request import PENDING_STATUSES, STATUSES
from projections.stats import RequestFacts, public_stats

View = Mapping[str, Any]

#: Coarse statuses the public may see, in the order pages list them.
PUBLIC_STATUSES = ("submitted", "pending", "approved", "active", "expired", "refused", "withdrawn")
#: Circulated statuses of a request still waiting for its initial decision.
_PENDING = PENDING_STATUSES - {"submitted"}
#: Derived statuses an applicant sees (SPEC §3).
_APPLICANT_STATUSES = frozenset(STATUSES)
_APPLICANT_KINDS = frozenset({"ngo", "un_agency", "international_org", "member_state", "red_cross"})


# --- the clear fields a public record is made of (SPEC §7.1) ---------------------------------

#: `(event type, field of its data)`; `None` for the event's own time (its envelope).
Source = tuple[str, str | None]

_DECISIONS: tuple[Source, ...] = (
    ("ExemptionApproved", None),
    ("ExemptionRefused", None),
    ("RequestWithdrawn", None),
)
_VALIDITY: tuple[Source, ...] = (
    ("ExemptionApproved", "valid_from"),
    ("ExemptionApproved", "valid_until"),
    ("ExtensionGranted", "valid_until"),
)
_ITEMS: tuple[Source, ...] = (("RequestSubmitted", "items"), ("AmendmentApproved", "items"))
_EXTENSIONS: tuple[Source, ...] = (
    ("ExtensionGranted", None),
    ("ExtensionGranted", "procedure"),
    ("ExtensionGranted", "valid_until"),
)
_AMENDMENTS: tuple[Source, ...] = (
    ("AmendmentApproved", None),
    ("AmendmentApproved", "procedure"),
    ("AmendmentApproved", "items"),
)
_SHIPMENTS: tuple[Source, ...] = (
    ("ShipmentRecorded", "shipment_no"),
    ("ShipmentRecorded", "shipped_on"),
)

#: Every field of a public record (`public_request`) and what it is made of.
RECORD_SOURCES: Mapping[str, tuple[Source, ...]] = {
    "request_id": (("RequestSubmitted", "request_id"),),
    "status": (
        ("RequestSubmitted", "disclosure"),
        ("RequestCirculated", None),
        *_DECISIONS,
        *_VALIDITY,
    ),
    "applicant": (("RequestSubmitted", "applicant"),),
    "title": (("RequestSubmitted", "title"),),
    "items": _ITEMS,
    "total_value_usd": _ITEMS,
    "submitted_at": (("RequestSubmitted", None),),
    "circulated_at": (("RequestCirculated", None), ("RequestCirculated", "procedure")),
    "decided_at": _DECISIONS,
    "days_pending": (("RequestSubmitted", None), *_DECISIONS),
    "approved_at": (("ExemptionApproved", None),),
    "valid_from": (("ExemptionApproved", "valid_from"),),
    "valid_until": _VALIDITY,
    "letter_ref": (("ExemptionApproved", "letter_ref"),),
    "extensions": _EXTENSIONS,
    "amendments": _AMENDMENTS,
    "shipments": _SHIPMENTS,
    "updated": (
        ("RequestSubmitted", None),
        ("RequestCirculated", None),
        *_DECISIONS,
        *_EXTENSIONS,
        *_AMENDMENTS,
        *_SHIPMENTS,
    ),
}

#: The event types a public record is made of: the events of a public request that the
#: public sees happen, and so the events its receipt proves.
RECEIPT_EVENT_TYPES = frozenset(event_type for s in RECORD_SOURCES.values() for event_type, _ in s)


def sealed_sources() -> list[tuple[str, str, str]]:
    """`(record field, event type, data field)` of every source that §7.1 seals: none."""
    return [
        (name, event_type, field)
        for name, sources in RECORD_SOURCES.items()
        for event_type, field in sources
        if field is not None and field not in public_fields(event_type, 1)
    ]


if sealed_sources():  # pragma: no cover - a wrong line above stops every public output
    raise ImportError(f"public records would show sealed fields: {sealed_sources()}")


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


# --- reading the view's values -------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime, an RFC 3339 string or a date string."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def parse_date(value: Any) -> date | None:
    """A calendar date from a date, a `YYYY-MM-DD` string or a time."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def time_text(value: Any) -> str | None:
    """RFC 3339 UTC text (`...Z`, seconds precision) or None."""
    moment = parse_time(value)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def date_text(value: Any) -> str | None:
    day = parse_date(value)
    return None if day is None else day.isoformat()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [entry for entry in _list(value) if isinstance(entry, Mapping)]


def _applicant(view: View) -> dict[str, Any]:
    applicant = view.get("applicant")
    applicant = applicant if isinstance(applicant, Mapping) else {}
    kind = applicant.get("kind")
    return {
        "name": _text(applicant.get("name")),
        "kind": kind if kind in _APPLICANT_KINDS else None,
    }


def _items(value: Any) -> list[dict[str, Any]]:
    return [
        {
            "description": _text(item.get("description")),
            "hs_code": _text(item.get("hs_code")),
            "quantity": _number(item.get("quantity")),
            "unit": _text(item.get("unit")),
            "value_usd": _number(item.get("value_usd")),
        }
        for item in _dicts(value)
    ]


def _total(items: list[dict[str, Any]]) -> int | float:
    return sum(item["value_usd"] or 0 for item in items)


def _procedure(view: View, name: str) -> Mapping[str, Any]:
    for procedure in _dicts(view.get("procedures")):
        if procedure.get("name") == name:
            return procedure
    return {}


def _procedures(view: View, prefix: str) -> list[Mapping[str, Any]]:
    return [
        p
        for p in _dicts(view.get("procedures"))
        if isinstance(p.get("name"), str) and p["name"].startswith(prefix)
    ]


def _is_approved(view: View) -> bool:
    if view.get("approved_at") is not None:
        return True
    return _procedure(view, "initial").get("outcome") == "approved"


def _approved_at(view: View) -> str | None:
    return time_text(view.get("approved_at") or _procedure(view, "initial").get("decided_at"))


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
    if _is_approved(view):
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
    return "pending" if _procedure(view, "initial").get("circulated_at") else "submitted"


def _extensions(view: View) -> list[dict[str, Any]]:
    out = []
    for procedure in _procedures(view, "extension-"):
        if procedure.get("outcome") not in ("approved", "granted"):
            continue
        out.append(
            {
                "procedure": _text(procedure.get("name")),
                "granted_at": time_text(procedure.get("decided_at")),
                "valid_until": date_text(
                    procedure.get("granted_until") or procedure.get("valid_until")
                ),
            }
        )
    # A state view may keep extensions in their own list; take the same safe fields.
    if not out:
        for ext in _dicts(view.get("extensions")):
            if ext.get("outcome") not in ("approved", "granted"):
                continue
            out.append(
                {
                    "procedure": _text(ext.get("procedure") or ext.get("name")),
                    "granted_at": time_text(ext.get("decided_at") or ext.get("granted_at")),
                    "valid_until": date_text(ext.get("granted_until") or ext.get("valid_until")),
                }
            )
    return out


def _amendments(view: View) -> list[dict[str, Any]]:
    out = []
    sources = _dicts(view.get("amendments")) or _procedures(view, "amendment-")
    for amendment in sources:
        if amendment.get("outcome") != "approved":
            continue
        out.append(
            {
                "procedure": _text(amendment.get("procedure") or amendment.get("name")),
                "approved_at": time_text(
                    amendment.get("decided_at") or amendment.get("approved_at")
                ),
                "items": _items(amendment.get("items")),
            }
        )
    return out


def _shipments(view: View) -> list[dict[str, Any]]:
    return [
        {
            "shipment_no": _number(shipment.get("shipment_no")),
            "shipped_on": date_text(shipment.get("shipped_on")),
        }
        for shipment in _dicts(view.get("shipments"))
    ]


def _decided_at(view: View) -> datetime | None:
    status = view.get("status")
    if status == "withdrawn":
        return parse_time(view.get("withdrawn_at"))
    if status == "refused":
        return parse_time(view.get("refused_at") or _procedure(view, "initial").get("decided_at"))
    if _is_approved(view):
        return parse_time(_approved_at(view))
    return None


def is_public(view: View) -> bool:
    """Approved, or submitted with `disclosure: public`."""
    return _is_approved(view) or view.get("disclosure") == "public"


def public_request(view: View, now: datetime) -> dict[str, Any] | None:
    """The public record of a request, or None when the public may not see it."""
    if not is_public(view):
        return None
    status = coarse_status(view, now)
    submitted = parse_time(view.get("submitted_at"))
    decided = _decided_at(view)
    items = _items(view.get("items"))
    record: dict[str, Any] = {
        "request_id": _text(view.get("request_id")),
        "status": status,
        "applicant": _applicant(view),
        "title": _text(view.get("title")),
        "items": items,
        "total_value_usd": _total(items),
        "submitted_at": time_text(submitted),
        "circulated_at": time_text(_procedure(view, "initial").get("circulated_at")),
        "decided_at": time_text(decided),
        "days_pending": _days_between(submitted, decided or end_of_last_day(now)),
    }
    if _is_approved(view):
        record.update(
            {
                "approved_at": _approved_at(view),
                "valid_from": date_text(view.get("valid_from")),
                "valid_until": date_text(view.get("valid_until")),
                "letter_ref": _text(view.get("letter_ref")),
                "extensions": _extensions(view),
                "amendments": _amendments(view),
                "shipments": _shipments(view),
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
    moments += [parse_time(e.get("granted_at")) for e in _dicts(record.get("extensions"))]
    moments += [parse_time(a.get("approved_at")) for a in _dicts(record.get("amendments"))]
    moments += [parse_time(s.get("shipped_on")) for s in _dicts(record.get("shipments"))]
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
    initial = _procedure(view, "initial")
    outcome = initial.get("outcome")
    decided = parse_time(initial.get("decided_at")) if outcome in ("approved", "refused") else None
    if _is_approved(view) and decided is None:
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
    holds = len(_dicts(view.get("active_holds")))
    procedures = [
        {
            "name": _text(p.get("name")),
            "opened_at": time_text(p.get("opened_at")),
            "circulated_at": time_text(p.get("circulated_at")),
            "deadline": time_text(p.get("deadline")),
            "expedited": p.get("expedited") if isinstance(p.get("expedited"), bool) else None,
            "decided_at": time_text(p.get("decided_at")),
            "outcome": _text(p.get("outcome")),
        }
        for p in _dicts(view.get("procedures"))
    ]
    questions = [
        {
            "questions": _text(q.get("questions")),
            "requested_at": time_text(q.get("requested_at")),
            "answered_at": time_text(q.get("answered_at")),
            "response": _text(q.get("response")),
        }
        for q in _dicts(view.get("information_requests"))
    ]
    record: dict[str, Any] = {
        "request_id": _text(view.get("request_id")),
        "status": status if status in _APPLICANT_STATUSES else None,
        "applicant": _applicant(view),
        "title": _text(view.get("title")),
        "purpose": _text(view.get("purpose")),
        "beneficiaries": _text(view.get("beneficiaries")),
        "items": _items(view.get("items")),
        "disclosure": view.get("disclosure")
        if view.get("disclosure") == "public"
        else "confidential",
        "submitted_at": time_text(view.get("submitted_at")),
        "open_procedure": _text(view.get("open_procedure")),
        "deadline": time_text(view.get("deadline")),
        "information_pending": bool(view.get("information_pending")),
        "on_hold": bool(holds) or status == "on_hold",
        "active_hold_count": holds,
        "procedures": procedures,
        "information_requests": questions,
        "approved_at": time_text(view.get("approved_at")),
        "valid_from": date_text(view.get("valid_from")),
        "valid_until": date_text(view.get("valid_until")),
        "letter_ref": _text(view.get("letter_ref")),
        "shipments": _shipments(view),
        "extensions": _extensions(view),
        "amendments": _amendments(view),
        "withdrawn_at": time_text(view.get("withdrawn_at")),
        "refused_at": time_text(view.get("refused_at")),
    }
    # the version its `If-Match` names; not the position (of the request's last event,
    # maybe a hidden one: it dates that event against the log)
    version = view.get("stream_version")
    if isinstance(version, int) and not isinstance(version, bool):
        record["stream_version"] = version
    return record
