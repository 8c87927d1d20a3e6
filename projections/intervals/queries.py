"""Collection reads as of a moment, from the bitemporal projection: the requests (with the
filters of `GET /v1/requests`), a member's holds, the hold, processing and public
statistics — each equal to a fold of the log to that moment (`tests/projections/
test_interval_queries.py` proves it on both backends).

A moment is a business time `as_of` (what was true then) and a log position
`at_position` (what the log held then; None: everything the projection has applied).
A read without `as_of` is a read as of now. Retractions behave as for one request: at a
position before the retraction the retracted event counts, at or after it not, at any
`as_of` (also before the retraction's own `occurred_at`: SPEC §5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, Subquery, and_, case, exists, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from events.engines import plan_for_values
from events.model import RecordedEvent, utc_text
from events.types import request_stream
from projections.holds import Hold
from projections.intervals.cuts import TIME_CHANGES, status_then
from projections.intervals.rows import summary
from projections.intervals.stats import (
    hold_stats_at_head,
    hold_stats_in_db,
    processing_stats_at_head,
    processing_stats_in_db,
)
from projections.intervals.tables import (
    OPEN_SPAN,
    SPAN_CLASSES,
    hold_intervals,
    micros,
    request_status_intervals,
)
from projections.public import public_statistics
from projections.request import Status, fold
from projections.request.statuses import HOLDABLE, with_holds

__all__ = [
    "Moment",
    "RequestPage",
    "hold_items",
    "hold_stats_as_of",
    "member_holds_as_of",
    "processing_stats_as_of",
    "public_stats_as_of",
    "requests_as_of",
]

_S = request_status_intervals.c
_H = hold_intervals.c


@dataclass(frozen=True, slots=True)
class Moment:
    """Business time `as_of` (aware), as the log showed it at `at_position` (None: the
    projection's head)."""

    as_of: datetime
    at_position: int | None = None

    def stamp(self) -> dict[str, Any]:
        """What an answer says of the moment it reflects."""
        return {"as_of": utc_text(self.as_of), "at_position": self.at_position}


def _class_ranges(span: Any, start: Any, at: datetime) -> list[ColumnElement[bool]]:
    """One condition per span class (`interval_tables.span_class`) that every row of that
    class covering `at` meets: it began (`start`) after `at` - 2^(k+1) s, or it has no
    end. Each is one short range of an index on (…, span_class, start)."""
    ranges = [span == OPEN_SPAN]
    for k in SPAN_CLASSES:
        try:
            since = at - timedelta(seconds=2 ** (k + 1))
        except OverflowError:
            since = datetime.min.replace(tzinfo=UTC)
        ranges.append(and_(span == k, start >= since))
    return ranges


def _shown_at(c: Any, position: int) -> list[ColumnElement[bool]]:
    return [c.recorded_from <= position, or_(c.recorded_to.is_(None), c.recorded_to > position)]


def _ends_after(end: Any, at: datetime | int) -> ColumnElement[bool]:
    return or_(end.is_(None), end > at)


def _settled_by(c: Any, position: int) -> ColumnElement[bool]:
    """Rows that reach to `valid_to` at `position`: settled by then, or not at all."""
    return or_(c.settled_from.is_(None), c.settled_from <= position)


def _in_force(moment: Moment) -> list[ColumnElement[bool]]:
    """Status rows whose business interval holds `as_of` and whose recorded interval
    holds `at_position` (a row settled after `at_position` reaches to its `live_to`
    then)."""
    c, at = _S, moment.as_of
    if moment.at_position is None:
        return [c.valid_from <= at, _ends_after(c.valid_to, at), c.recorded_to.is_(None)]
    position = moment.at_position
    live = and_(c.settled_from > position, _ends_after(c.live_to, at))
    reach = or_(and_(_settled_by(c, position), _ends_after(c.valid_to, at)), live)
    return [c.valid_from <= at, reach, *_shown_at(c, position)]


def in_force_rows(moment: Moment, columns: Sequence[Any], *where: ColumnElement[bool]) -> Subquery:
    """`columns` of the status rows in force at `moment` (and meeting `where`): one
    branch per span class, UNION ALL (a row has one class), so that each is an index
    range and no row that began before `as_of` and ended before it is read. At a past
    position, the rows not yet settled then (whose class says nothing of their reach
    then) are one more branch."""
    c, at = _S, moment.as_of
    if moment.at_position is None:
        base = [*_in_force(moment), *where]
    else:
        position = moment.at_position
        base = [c.valid_from <= at, _ends_after(c.valid_to, at), _settled_by(c, position)]
        base += [*_shown_at(c, position), *where]
    ranges = _class_ranges(c.span_class, c.valid_from, at)
    branches = [select(*columns).where(*base, by_class) for by_class in ranges]
    if moment.at_position is not None:
        position = moment.at_position
        live = [c.valid_from <= at, c.settled_from > position, _ends_after(c.live_to, at)]
        live += _shown_at(c, position)
        branches.append(select(*columns).where(*live, *where))
    return union_all(*branches).subquery()


#: A hold row's columns of its end.
_ENDS = (_H.ended_at, _H.end_kind, _H.ended_us)


def _hold_seen(moment: Moment) -> tuple[list[ColumnElement[bool]], ColumnElement[bool]]:
    """What makes a hold row shown at `moment` (recorded at `at_position`), and what makes
    its hold ended as of then: at the head every recorded end counts, at a position those
    recorded by then (`ended_from` and `ended_us` are NULL together)."""
    c, until = _H, micros(moment.as_of)
    if moment.at_position is None:
        return [c.recorded_to.is_(None)], c.ended_us <= until
    position = moment.at_position
    return _shown_at(c, position), and_(c.ended_from <= position, c.ended_us <= until)


def _holds_shown(moment: Moment, *where: ColumnElement[bool]) -> Select[Any]:
    """The hold rows shown at `moment` (placed by `as_of`, recorded at `at_position`),
    each with its end as of then (`ended_at`, `end_kind`, `ended_us`: NULL when the
    hold was still active then). At the head every recorded end counts; at a position,
    those recorded by then."""
    c, at = _H, moment.as_of
    shown, ended = _hold_seen(moment)
    columns = [
        c.hold_position,
        c.request_id,
        c.procedure,
        c.member,
        c.placed_at,
        c.placed_us,
        *(case((ended, column), else_=None).label(column.name) for column in _ENDS),
    ]
    return select(*columns).where(*shown, c.placed_at <= at, *where)


#: The status a row shows before its `changes_at`, of each status time alone reaches.
_BEFORE = {later: earlier for earlier, later in TIME_CHANGES.items()}


def _status_is(status: str, at: datetime) -> ColumnElement[bool]:
    """Status rows that show `status` at business time `at` (`cuts.status_then` in SQL):
    those opened in it and not changed by time by then, and those opened in the status
    that time turns into it and changed by then."""
    unchanged = or_(_S.changes_at.is_(None), _S.changes_at > at)
    if status in TIME_CHANGES:
        return and_(_S.status == status, unchanged)
    if status in _BEFORE:
        changed = and_(_S.status == _BEFORE[status], _S.changes_at <= at)
        return or_(_S.status == status, changed)
    return _S.status == status


def _status_filter(status: str, moment: Moment) -> list[ColumnElement[bool]]:
    """Status rows of requests in `status` at `moment`: a row keeps the status without
    the holds, and a hold active then makes `under_review` and `awaiting_decision`
    `on_hold` (`statuses.with_holds`)."""
    if status == "on_hold":
        return [_S.status.in_(HOLDABLE), _held(moment)]
    if status in HOLDABLE:
        return [_status_is(status, moment.as_of), ~_held(moment)]
    return [_status_is(status, moment.as_of)]


def _active(moment: Moment) -> list[ColumnElement[bool]]:
    """Hold rows of holds active at `moment`: shown then, placed by `as_of`, not ended
    as of then (at a position, an end recorded after it does not count)."""
    shown, ended = _hold_seen(moment)
    return [*shown, _H.placed_at <= moment.as_of, or_(_H.ended_us.is_(None), ~ended)]


def _held(moment: Moment, member: str | None = None) -> ColumnElement[bool]:
    """The status row's request had a hold (of `member`) active at `moment`."""
    where = [_H.request_id == _S.request_id, *_active(moment)]
    if member is not None:
        where.append(_H.member == member)
    return exists(select(_H.hold_position).where(*where))


async def _held_requests(
    conn: AsyncConnection, moment: Moment, request_ids: Sequence[str] | None = None
) -> set[str]:
    """Those of `request_ids` (None: every request) with a hold active at `moment`."""
    query = select(_H.request_id).where(*_active(moment)).distinct()
    if request_ids is not None:
        if not request_ids:
            return set()
        query = query.where(_H.request_id.in_(request_ids))
    return set((await conn.scalars(query)).all())


def _status(row: Any, moment: Moment, held: set[str]) -> Status:
    """The status a row (with `request_id`, `status` and `changes_at`) shows at the
    moment's time, its request held then when in `held`."""
    unheld = status_then(row.status, row.changes_at, moment.as_of)
    return with_holds(unheld, row.request_id in held)


class StreamsReader(Protocol):
    """Reads several streams at once (`EventStore.read_streams`)."""

    async def read_streams(
        self, from_versions: Mapping[str, int], *, upcast: bool = True
    ) -> dict[str, list[RecordedEvent]]: ...


async def _summaries(
    log: StreamsReader, moment: Moment, request_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each request's list item fields at `moment`: `summary` of its stream folded to
    then (the events with `position <= at_position` and `occurred_at <= as_of`), the page's
    streams read in one statement."""
    if not request_ids:
        return {}
    streams = await log.read_streams({request_stream(r): 1 for r in request_ids})
    shown = {}
    for request_id in request_ids:
        state = fold(
            streams[request_stream(request_id)],
            as_of=moment.as_of,
            at_position=moment.at_position,
        )
        if state is not None:
            shown[request_id] = summary(state)
    return shown


@dataclass(frozen=True, slots=True)
class RequestPage:
    """A page of requests: each item `intervals.summary` of the state then, with the
    status then; `next_after` the request id to continue after (None: the last page)."""

    items: list[dict[str, Any]]
    next_after: str | None


async def requests_as_of(
    conn: AsyncConnection,
    log: StreamsReader,
    moment: Moment,
    *,
    status: str | None = None,
    held_by: str | None = None,
    applicant: str | None = None,
    submitted_after: datetime | None = None,
    submitted_before: datetime | None = None,
    after: str | None = None,
    limit: int = 50,
) -> RequestPage:
    """The requests as of `moment`, every filter applied as of then, by request id: the
    projection chooses them, `log` gives what each item shows.

    `applicant` is the applicant's name (an applicant caller passes its own); `after` is
    the decoded cursor (the last request id of the previous page)."""
    await plan_for_values(conn)
    where: list[ColumnElement[bool]] = []
    if status is not None:
        where.extend(_status_filter(status, moment))
    if held_by is not None:
        where.append(_held(moment, held_by))
    if applicant is not None:
        where.append(_S.applicant_name == applicant)
    if submitted_after is not None:
        where.append(_S.submitted_at > submitted_after)
    if submitted_before is not None:
        where.append(_S.submitted_at < submitted_before)
    rows = await _page_rows(conn, moment, where, after, limit + 1)
    page = [row.request_id for row in rows[:limit]]
    held = await _held_requests(conn, moment, page)
    shown = await _summaries(log, moment, page)
    items = [
        {**shown[row.request_id], "status": _status(row, moment, held)} for row in rows[:limit]
    ]
    next_after = rows[limit - 1].request_id if len(rows) > limit else None
    return RequestPage(items, next_after)


#: How many status rows a page of requests first walks in request id order: filters
#: that many requests meet (`on_hold` in the middle of a busy log) fill the page there,
#: in a few milliseconds; where they do not, the rest is searched by span class.
WALK = 10_000


async def _page_rows(
    conn: AsyncConnection,
    moment: Moment,
    where: Sequence[ColumnElement[bool]],
    after: str | None,
    count: int,
) -> list[Any]:
    """The first `count` status rows in force at `moment` meeting `where`, after request
    `after`, by request id (a request has one then). The rows up to the `WALK`-th after
    `after` are walked in the primary key's order and filtered; if that does not fill
    the page, the rest comes from the span classes (`in_force_rows`), beyond them."""
    c = _S
    start = [] if after is None else [c.request_id > after]
    bound = await conn.scalar(
        select(c.request_id).where(*start).order_by(c.request_id).offset(WALK - 1).limit(1)
    )
    columns = (c.request_id, c.status, c.changes_at)
    walked = [*start] if bound is None else [*start, c.request_id <= bound]
    query = select(*columns).where(*_in_force(moment), *where, *walked)
    rows = list((await conn.execute(query.order_by(c.request_id).limit(count))).all())
    if len(rows) < count and bound is not None:
        found = in_force_rows(moment, columns, *where, c.request_id > bound)
        rest = select(found).order_by(found.c.request_id).limit(count - len(rows))
        rows += (await conn.execute(rest)).all()
    return rows


async def _holds(conn: AsyncConnection, moment: Moment, member: str | None) -> list[Hold]:
    await plan_for_values(conn)
    where = [] if member is None else [_H.member == member]
    query = _holds_shown(moment, *where).order_by(_H.hold_position)
    return [Hold.of_row(row, row.hold_position) for row in (await conn.execute(query)).all()]


async def member_holds_as_of(conn: AsyncConnection, member: str, moment: Moment) -> list[Hold]:
    """The holds `member` had placed as of `moment`, active and ended, by position."""
    return await _holds(conn, moment, member)


def _round(days: float | None) -> float | None:
    return None if days is None else round(days, 2)


def hold_items(holds: Sequence[Hold], at: datetime) -> list[dict[str, Any]]:
    """The items of `GET /v1/members/{member}/holds`, durations counted up to `at`."""
    return [
        {
            "request_id": h.request_id,
            "procedure": h.procedure,
            "placed_at": utc_text(h.placed_at),
            "ended_at": utc_text(h.ended_at) if h.ended_at else None,
            "end": h.end,
            "active": h.active,
            "duration_days": _round(h.duration_days(at)),
        }
        for h in holds
    ]


async def hold_stats_as_of(conn: AsyncConnection, moment: Moment) -> dict[str, Any]:
    """`GET /v1/stats/holds` as of `moment`: `{members: [...]}`, aggregated in the
    database (`projections.intervals.stats`; at the head from its partial indexes)."""
    await plan_for_values(conn)
    at = moment.as_of
    if moment.at_position is None:
        return {"members": await hold_stats_at_head(conn, _active_at_head(at), at)}
    return {"members": await hold_stats_in_db(conn, _holds_shown(moment).subquery(), at)}


def _active_at_head(at: datetime) -> Subquery:
    """(member, placed_us) of the head's holds active at `at`: placed by then, not ended
    by then; one branch per span class of the hold's length (`ix_hold_intervals_active`)."""
    c, active = _H, _active(Moment(at))
    ranges = _class_ranges(c.span_class, c.placed_at, at)
    return union_all(*(select(c.member, c.placed_us).where(*active, r) for r in ranges)).subquery()


async def processing_stats_as_of(conn: AsyncConnection, moment: Moment) -> dict[str, Any]:
    """`GET /v1/stats/processing` as of `moment`: `{years: [...]}`, aggregated in the
    database (at the head from the partial indexes of 0009)."""
    await plan_for_values(conn)
    if moment.at_position is None:
        return {"years": await processing_stats_at_head(conn, moment.as_of)}
    # most rows that began before `as_of` are in force then: a plain scan, not one
    # branch per span class (whose union the database would evaluate once per aggregate)
    columns = (_S.submitted_year, _S.decided_year, _S.outcome, _S.decision_us)
    found = select(*columns).where(*_in_force(moment)).subquery()
    return {"years": await processing_stats_in_db(conn, found)}


def _time(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


async def public_stats_as_of(conn: AsyncConnection, moment: Moment) -> dict[str, Any]:
    """`GET /public/stats` as of `moment`: aggregates only, no member, no request."""
    await plan_for_values(conn)
    found = in_force_rows(moment, tuple(_S))
    query = select(found)
    held = await _held_requests(conn, moment)
    views = [
        # the fields of the state view that `public_statistics` reads, no more
        {
            "request_id": row.request_id,
            "status": _status(row, moment, held),
            "submitted_at": _time(row.submitted_at),
            "approved_at": _time(row.approved_at),
            "refused_at": _time(row.refused_at),
            "withdrawn_at": _time(row.withdrawn_at),
            "valid_from": _day(row.exemption_from),
            "valid_until": _day(row.exemption_until),
            "disclosure": row.disclosure,
            "procedures": [
                {
                    "name": "initial",
                    "circulated_at": _time(row.circulated_at),
                    "decided_at": _time(row.decided_at),
                    "outcome": row.outcome,
                }
            ],
        }
        for row in (await conn.execute(query.order_by(found.c.request_id))).all()
    ]
    return public_statistics(views, moment.as_of)
