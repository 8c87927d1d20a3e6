"""Validators of public answers made only of what the answer shows (SPEC §7).

An ETag that carried the log position, or a Last-Modified that was the time of the last
event of any kind, moved on every sealed or confidential event (a hold on a confidential
request, a departure lapsing holds) while the body stayed the same: a side channel that
timed and counted what the public may not see. Here the ETag is a digest of the body
and its media type, and Last-Modified the newest public date the answer shows, floored at
the start of the day (days pending and active/expired move with the date).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from projections.view_values import parse_time


def body_etag(body: bytes, media_type: str) -> str:
    """A strong ETag: equal bodies of one media type, equal tags; nothing else in it."""
    digest = hashlib.sha256(media_type.encode() + b"\n" + body).hexdigest()[:32]
    return f'"{digest}"'


def start_of_day(now: datetime) -> datetime:
    moment = now.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def newest_public_date(records: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The latest `updated` (the newest public fact) among the records shown."""
    moments = [parse_time(record.get("updated")) for record in records]
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def shown_last_modified(newest: datetime | None, now: datetime) -> datetime:
    """The later of the newest public date shown and the start of today, to the second."""
    floor = start_of_day(now)
    moment = floor if newest is None else max(newest.astimezone(UTC), floor)
    return moment.replace(microsecond=0)
