"""Validators of public responses: ETag from the log position and the query, Last-Modified,
and the answers to If-None-Match / If-Modified-Since (RFC 9110 §13)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers


def make_etag(position: int, path: str, query: str, day: str) -> str:
    """A strong ETag: the log position the data reflects, the query, and the day (days
    pending and active/expired change with the date, not only with the log)."""
    digest = hashlib.sha256(f"{path}?{query}|{day}".encode()).hexdigest()[:16]
    return f'"p{position}-{digest}"'


def last_modified_for(modified: datetime, now: datetime) -> datetime:
    """The later of the data's last change and the start of today: a page computed today
    may differ from yesterday's even when the log has not moved."""
    start_of_day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return max(modified.astimezone(UTC), start_of_day).replace(microsecond=0)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified(headers: Headers, etag: str, modified: datetime) -> bool:
    """Whether a GET may be answered 304. If-None-Match wins over If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        return any(_opaque(tag) == _opaque(etag) for tag in if_none_match.split(","))
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified.replace(microsecond=0) <= since
    return False
