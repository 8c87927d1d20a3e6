"""Conditional requests on public answers: If-None-Match / If-Modified-Since (RFC 9110 §13).
The validators themselves are made in `service.public.etag`."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified(headers: Headers, etag: str, modified: datetime | None) -> bool:
    """Whether a GET may be answered 304. If-None-Match wins over If-Modified-Since, which
    is ignored when `modified` is None (no exact modification time)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        return any(_opaque(tag) == _opaque(etag) for tag in if_none_match.split(","))
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since and modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified.replace(microsecond=0) <= since
    return False
