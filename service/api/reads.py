"""Reads for the secretariat, auditors and applicants (SPEC §6)."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query

from events.model import parse_utc, utc_text
from events.types import COMMITTEE_STREAM, request_stream
from projections import committee, history, public, request
from projections.holds import Hold
from projections.intervals import queries as as_of_reads
from projections.request import STATUSES
from projections.stats import hold_stats, processing_stats
from projections.tables import status_at
from service.api.applicants import (
    POSITIONS_NOT_FOR_APPLICANTS,
    check_owner,
    no_such_request,
    owns,
)
from service.api.auth import AnyCaller, Overseer
from service.api.json_answer import JsonAnswer
from service.api.problems import (
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    Unprocessable,
    problem_openapi,
)
from service.api.time_travel import Asked, AsOf, AtPosition, asked, caught_up, parse_time
from service.platform.moments import OutOfBounds, within_bounds
from service.platform.tokens import Caller
from service.queries.as_of import (
    hold_stats_as_of,
    member_holds_as_of,
    processing_stats_as_of,
    requests_as_of,
)
from service.queries.holds import holds_of
from service.queries.requests import RequestFilter, request_facts, request_page
from service.runtime import Runtime, get_runtime

router = APIRouter(tags=["reads"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_PROBLEMS = problem_openapi(Unauthorized, Forbidden, NotFound, Unprocessable)
_AS_OF_PROBLEMS = problem_openapi(Unauthorized, Forbidden, NotFound, Unprocessable, Unavailable)
Time = Annotated[str | None, Query(max_length=40, description="RFC 3339 time")]
# PostgreSQL refuses NUL in text (a DataError, answered as 503): refuse controls up front.
_NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"
RequestIdPath = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{2,39}$")]


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(value)
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-23:59 overflows in UTC
        raise Unprocessable(f"{name}: not an RFC 3339 time with a zone: {value!r}") from None


def _bounded(moment: datetime, name: str, now: datetime) -> datetime:
    """`moment` within the bounds of an `as_of` (SPEC §5), else a 422 problem."""
    try:
        return within_bounds(moment, now)
    except OutOfBounds as error:
        raise Unprocessable(f"{name}: {error}", rule=OutOfBounds.rule) from None


def _zone(runtime: Runtime) -> ZoneInfo:
    return ZoneInfo(runtime.settings.time_zone)


def _shown_to(caller: Caller, document: dict[str, Any]) -> dict[str, Any]:
    """The secretariat and auditors see everything; an applicant its own, redacted."""
    if caller.role == "applicant":
        return public.applicant_request(document)
    return document


def _own(caller: Caller, state: request.RequestState | None, request_id: str) -> None:
    if state is None or not owns(caller, state.applicant):
        raise no_such_request(request_id)


def _cursor(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        padded = value.encode() + b"=" * (-len(value) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise Unprocessable("cursor: not a cursor this API gave") from None
    if not decoded:
        raise Unprocessable("cursor: not a cursor this API gave")
    return decoded


def _next_cursor(after: str | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


@router.get(
    "/v1/requests",
    summary="Requests, filtered, in cursor pages; now, or as of a time or position",
    responses=_AS_OF_PROBLEMS,
)
async def list_requests(
    runtime: RuntimeDep,
    caller: AnyCaller,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    held_by: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    applicant: Annotated[str | None, Query(max_length=300, pattern=_NO_CONTROLS)] = None,
    submitted_after: Time = None,
    submitted_before: Time = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    as_of: AsOf = None,
    at_position: AtPosition = None,
) -> JsonAnswer:
    applicant_asks = caller.role == "applicant"
    if held_by is not None and applicant_asks:
        raise Forbidden("applicants may not filter by holding member")
    if at_position is not None and applicant_asks:
        # refused whatever the position: "beyond the head" or not would tell the head
        raise Forbidden(
            "log positions are for the secretariat and auditors; read as of a time instead",
            rule=POSITIONS_NOT_FOR_APPLICANTS,
        )
    after = _cursor(cursor)
    moment = await asked(runtime, as_of, at_position, tell_positions=not applicant_asks)
    start = _time(submitted_after, "submitted_after")
    end = _time(submitted_before, "submitted_before")
    if moment is not None:
        return await _requests_as_of(
            runtime,
            caller,
            moment,
            RequestFilter(status, held_by, applicant, start, end, after),
            limit,
        )
    now = runtime.clock()
    tz = _zone(runtime)
    await caught_up(runtime)
    if caller.role == "applicant":
        if applicant not in (None, caller.org or ""):
            # another organisation's requests: none of them is the caller's
            return JsonAnswer({"items": [], "next_cursor": None})
        applicant = caller.org or ""
    where = RequestFilter(status, held_by, applicant, start, end, after)
    async with runtime.read_engine.connect() as conn:
        rows = await request_page(conn, where, limit, now, tz)
    page = rows[:limit]
    # each item is its request's view (as `GET /v1/requests/{id}` gives it), as the
    # page's row found it: the stream folded up to the row's position, the page's
    # streams read in one statement
    streams = await runtime.store.read_streams({request_stream(r.request_id): 1 for r in page})
    items = []
    for row in page:
        state = request.fold(streams[request_stream(row.request_id)], at_position=row.position)
        if state is None:  # a row is written from its stream: never so
            continue
        document = request.view(state, state.last_occurred_at)
        document["status"] = status_at(row, now, tz)
        items.append(_shown_to(caller, document))
    last = rows[limit - 1].request_id if len(rows) > limit else None
    return JsonAnswer({"items": items, "next_cursor": _next_cursor(last)})


async def _requests_as_of(
    runtime: Runtime, caller: Caller, moment: Asked, where: RequestFilter, limit: int
) -> JsonAnswer:
    """`GET /v1/requests` as of a moment: every filter applies as of then."""
    page = as_of_reads.RequestPage([], None)
    if caller.role == "applicant" and where.applicant not in (None, caller.org):
        pass  # another organisation's requests: none of them is the caller's
    else:
        if caller.role == "applicant":
            where = replace(where, applicant=caller.org or "")
        async with runtime.read_engine.connect() as conn:
            page = await requests_as_of(conn, runtime.store, moment.moment, where, limit)
    items = [_shown_to(caller, item) for item in page.items]
    stamp = moment.stamp(with_position=caller.role != "applicant")
    body = {"items": items, "next_cursor": _next_cursor(page.next_after), **stamp}
    return JsonAnswer(body, headers=moment.headers())


async def _state(
    runtime: Runtime, request_id: str, as_of: datetime | None, at_position: int | None
) -> request.RequestState | None:
    commands = runtime.commands
    if as_of is None and at_position is None:
        return await commands.request_state(request_id)
    if at_position is None and as_of is not None:
        # nothing occurred after `as_of`: the state as of then is the current one
        current = await commands.request_state_as_of(request_id, as_of)
        if current is not None:
            return current
    # every event known at the position, also those after `as_of`: a retraction that
    # occurred later still takes its target back at `as_of` (SPEC §5)
    events = await runtime.store.read_stream(request_stream(request_id), to_position=at_position)
    return request.fold(events, as_of=as_of)


@router.get(
    "/v1/requests/{id}",
    summary="A request's state, now or as of a time or position",
    responses=_PROBLEMS,
)
async def get_request(
    runtime: RuntimeDep,
    caller: AnyCaller,
    id: RequestIdPath,
    as_of: Time = None,
    at_position: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> JsonAnswer:
    now = runtime.clock()
    moment = None if as_of is None else parse_time(as_of, "as_of", now)
    # ownership on the current state first: a fold as of a time before another
    # organisation's submission must answer as one after it does
    await check_owner(runtime, caller, id)
    state = await _state(runtime, id, moment, at_position)
    _own(caller, state, id)
    assert state is not None
    document = request.view(state, moment or now, _zone(runtime))
    return JsonAnswer(_shown_to(caller, document), headers={"ETag": f'"{state.stream_version}"'})


@router.get(
    "/v1/requests/{id}/history", summary="The audit trail of a request", responses=_PROBLEMS
)
async def get_history(runtime: RuntimeDep, caller: AnyCaller, id: RequestIdPath) -> dict[str, Any]:
    # an applicant's ownership before any of the stream is read: reading and folding
    # another organisation's stream took longer than finding none (SPEC §7)
    await check_owner(runtime, caller, id)
    events = await runtime.store.read_stream(request_stream(id), upcast=False)
    state = request.fold(events) if events else None
    _own(caller, state, id)
    entries = []
    for entry in history.entries(events):
        row = entry.row()
        row["occurred_at"] = utc_text(entry.occurred_at)
        row["recorded_at"] = utc_text(entry.recorded_at)
        if caller.role == "applicant":
            if entry.confidential:
                continue
            row.pop("actor")
            row.pop("position")  # no log position to an applicant (SPEC §7, §9)
        entries.append(row)
    return {"request_id": id, "items": entries, "next_cursor": None}


@router.get(
    "/v1/committee", summary="The committee's roster, now or as of a time", responses=_PROBLEMS
)
async def get_committee(runtime: RuntimeDep, _: AnyCaller, as_of: Time = None) -> dict[str, Any]:
    now = runtime.clock()
    given = _time(as_of, "as_of")
    moment = now if given is None else _bounded(given, "as_of", now)
    events = await runtime.store.read_stream(COMMITTEE_STREAM, occurred_until=moment)
    roster = committee.fold(events)
    seats = committee.roster_as_of(roster, moment, _zone(runtime))
    return {
        "as_of": utc_text(moment),
        "members": [
            {
                "member": seat.member,
                "term_start": seat.term_start.isoformat(),
                "term_end": seat.term_end.isoformat() if seat.term_end else None,
                "permanent": seat.permanent,
            }
            for seat in seats
        ],
    }


async def _holds(runtime: Runtime, member: str | None = None) -> list[Hold]:
    await caught_up(runtime)
    async with runtime.read_engine.connect() as conn:
        return await holds_of(conn, member)


@router.get(
    "/v1/members/{member}/holds",
    summary="Holds by one member, active and past",
    responses=_AS_OF_PROBLEMS,
)
async def member_holds(
    runtime: RuntimeDep,
    _: Overseer,
    member: Annotated[str, Path(pattern=r"^[A-Z]{3}$")],
    as_of: AsOf = None,
    at_position: AtPosition = None,
) -> JsonAnswer:
    moment = await asked(runtime, as_of, at_position)
    if moment is not None:
        async with runtime.read_engine.connect() as conn:
            found = await member_holds_as_of(conn, member, moment.moment)
        items = as_of_reads.hold_items(found, moment.moment.as_of)
        body = {"member": member, "items": items, **moment.stamp()}
        return JsonAnswer(body, headers=moment.headers())
    rows = await _holds(runtime, member)
    items = as_of_reads.hold_items(rows, runtime.clock())
    return JsonAnswer({"member": member, "items": items})


@router.get(
    "/v1/stats/holds",
    summary="Per member: holds placed, active, days held; now or as of a moment",
    responses=_AS_OF_PROBLEMS,
)
async def stats_holds(
    runtime: RuntimeDep, _: Overseer, as_of: AsOf = None, at_position: AtPosition = None
) -> JsonAnswer:
    moment = await asked(runtime, as_of, at_position)
    if moment is not None:
        async with runtime.read_engine.connect() as conn:
            found = await hold_stats_as_of(conn, moment.moment)
        return JsonAnswer({**found, **moment.stamp()}, headers=moment.headers())
    return JsonAnswer({"members": hold_stats(await _holds(runtime), runtime.clock())})


@router.get(
    "/v1/stats/processing",
    summary="Per year: requests, decisions, days to decision; now or as of a moment",
    responses=_AS_OF_PROBLEMS,
)
async def stats_processing(
    runtime: RuntimeDep, _: Overseer, as_of: AsOf = None, at_position: AtPosition = None
) -> JsonAnswer:
    moment = await asked(runtime, as_of, at_position)
    if moment is not None:
        async with runtime.read_engine.connect() as conn:
            found = await processing_stats_as_of(conn, moment.moment)
        return JsonAnswer({**found, **moment.stamp()}, headers=moment.headers())
    await caught_up(runtime)
    async with runtime.read_engine.connect() as conn:
        facts = await request_facts(conn, runtime.clock(), _zone(runtime))
    return JsonAnswer({"years": processing_stats(facts)})
