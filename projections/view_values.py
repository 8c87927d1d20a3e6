"""Reading a request's state view (SPEC §7): its times, dates and texts taken only when
they are what they should be, and its procedures. Nothing here decides what is shown;
`projections.public` and `projections.record_parts` do, field by field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "View",
    "approved_at",
    "as_dicts",
    "as_number",
    "as_text",
    "date_text",
    "is_approved",
    "parse_date",
    "parse_time",
    "procedure_named",
    "procedures_starting",
    "time_text",
]

View = Mapping[str, Any]


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
    """`YYYY-MM-DD` or None."""
    day = parse_date(value)
    return None if day is None else day.isoformat()


def as_text(value: Any) -> str | None:
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def as_number(value: Any) -> int | float | None:
    """`value` if it is an int or a float (never a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def as_dicts(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list or tuple `value`; anything else in it is passed over."""
    return [entry for entry in _list(value) if isinstance(entry, Mapping)]


def procedure_named(view: View, name: str) -> Mapping[str, Any]:
    """The view's procedure of that name (`initial`, `extension-1`…), or {}."""
    for procedure in as_dicts(view.get("procedures")):
        if procedure.get("name") == name:
            return procedure
    return {}


def procedures_starting(view: View, prefix: str) -> list[Mapping[str, Any]]:
    """The view's procedures whose name starts with `prefix`."""
    return [
        p
        for p in as_dicts(view.get("procedures"))
        if isinstance(p.get("name"), str) and p["name"].startswith(prefix)
    ]


def is_approved(view: View) -> bool:
    """Whether the request was approved (an approval time, or its initial outcome)."""
    if view.get("approved_at") is not None:
        return True
    return procedure_named(view, "initial").get("outcome") == "approved"


def approved_at(view: View) -> str | None:
    """When the request was approved, as RFC 3339 text, or None."""
    return time_text(view.get("approved_at") or procedure_named(view, "initial").get("decided_at"))
