"""Public routes (no token): JSON, Atom, JSON Feed, CSV, HTML pages and their stylesheet.

Every answer is computed from public records (`projections.public`), carries an ETag and a
Last-Modified made only of what it shows (`service.public.etag`); conditional GETs get 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from importlib import resources
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from projections.public import public_request, public_requests
from projections.view_values import time_text
from service.api.problems import NotFound, Unavailable, Unprocessable, problem_openapi
from service.api.public_statistics import RuntimeStatistics, StatisticsReader, daily_statistics
from service.platform.moments import OutOfBounds, last_complete_day, public_day
from service.public import feeds, pages
from service.public.base_url import get_public_url
from service.public.conditional import http_date, not_modified
from service.public.etag import body_etag, newest_public_date, shown_last_modified, start_of_day
from service.public.source import PublicSource
from service.queries.receipts import request_receipt, witness_policy
from service.runtime import Runtime, get_runtime

router = APIRouter(tags=["public"])

PublicStatus = Literal[
    "submitted", "pending", "approved", "active", "expired", "refused", "withdrawn"
]
CACHE_CONTROL = "public, max-age=60"
ATOM_MEDIA_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_MEDIA_TYPE = "application/feed+json"
# No `header=present` (RFC 4180 allows it): libhxl, and so HXL Proxy, recognise a CSV
# answer only as `text/csv` or `text/csv; charset=...` and refuse any other parameter.
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
HTML_MEDIA_TYPE = "text/html; charset=utf-8"


async def get_public_source(request: Request) -> PublicSource:
    """The app's source: `app.state.public_source` if set (tests), else the runtime's."""
    source: PublicSource | None = getattr(request.app.state, "public_source", None)
    if source is None:
        source = request.app.state.runtime.public_source
    return source


async def get_now(request: Request) -> datetime:
    """The time of public outputs: the runtime's clock, the product's one
    (`create_app(clock=...)` fixes it; an app without a runtime overrides this)."""
    runtime: Runtime = request.app.state.runtime
    return runtime.clock()


async def get_public_statistics(request: Request) -> StatisticsReader:
    """Where public statistics are read: `app.state.public_statistics` if set (tests),
    else the running service."""
    reader: StatisticsReader | None = getattr(request.app.state, "public_statistics", None)
    if reader is None:
        reader = RuntimeStatistics(request.app.state.runtime)
    return reader


Source = Annotated[PublicSource, Depends(get_public_source)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Now = Annotated[datetime, Depends(get_now)]
Statistics = Annotated[StatisticsReader, Depends(get_public_statistics)]
PublicUrl = Annotated[str, Depends(get_public_url)]

#: A renderer gives the body, its status and the public records it shows (their dates
#: make Last-Modified); an aggregate shows none.
Shown = Sequence[Mapping[str, Any]]
Render = Callable[[], Awaitable[tuple[bytes | str, int, Shown]]]


async def _answer(
    request: Request,
    source: PublicSource,
    now: datetime,
    media_type: str,
    render: Render,
    *,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    # Validators come from the rendered answer alone (service.public.etag): nothing of the
    # log's position or of its last event's time, which move on confidential events.
    body, status, shown = await render()
    content = body.encode() if isinstance(body, str) else body
    modified = shown_last_modified(newest_public_date(shown), now)
    etag = body_etag(content, media_type)
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(modified),
        "Cache-Control": CACHE_CONTROL,
        **(extra_headers or {}),
    }
    # If-Modified-Since alone is honoured only where the answer shows its records' dates;
    # an aggregate may change within a day, and only its ETag tells.
    if not_modified(request.headers, etag, modified if shown else None):
        return Response(status_code=304, headers=headers)
    return Response(content, status_code=status, media_type=media_type, headers=headers)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


async def _records(source: PublicSource, now: datetime) -> list[dict[str, Any]]:
    return public_requests(await source.list_states(), now)


def _updated(records: list[dict[str, Any]], now: datetime) -> str:
    # an empty feed was last updated at the start of the day at the latest: not `now`,
    # which would make a new feed every second
    stamps = [str(r["updated"]) for r in records if r.get("updated")]
    return max(stamps) if stamps else (time_text(start_of_day(now)) or "")


# --- JSON ----------------------------------------------------------------------------------


@router.get(
    "/public/requests",
    summary="Public requests: approved exemptions and publicly disclosed requests",
    responses=problem_openapi(Unprocessable),
)
async def list_public_requests(
    request: Request,
    source: Source,
    now: Now,
    status: PublicStatus | None = None,
    year: Annotated[int | None, Query(ge=1900, le=9999)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=feeds.MAX_LIMIT)] = feeds.DEFAULT_LIMIT,
) -> Response:
    if cursor:
        try:
            feeds.decode_cursor(cursor)
        except feeds.BadCursor as error:
            raise Unprocessable(f"cursor: {error}") from error

    async def render() -> tuple[bytes, int, Shown]:
        chosen = feeds.filter_records(await _records(source, now), status, year, q)
        items, next_cursor = feeds.page(chosen, cursor, limit)
        return _json({"items": items, "next_cursor": next_cursor}), 200, items

    return await _answer(request, source, now, "application/json", render)


@router.get(
    "/public/requests/{request_id}",
    summary="One public request",
    responses=problem_openapi(NotFound),
)
async def get_public_request(
    request: Request, request_id: str, source: Source, now: Now
) -> Response:
    async def render() -> tuple[bytes, int, Shown]:
        state = await source.get_state(request_id)
        record = None if state is None else public_request(state, now)
        if record is None:
            raise NotFound(f"no public request {request_id}")
        return _json(record), 200, [record]

    return await _answer(request, source, now, "application/json", render)


@router.get(
    "/public/requests/{request_id}/receipt",
    summary="The request's receipt: its public events proved against the published checkpoint",
    responses=problem_openapi(NotFound),
)
async def get_public_receipt(
    request: Request, request_id: str, source: Source, runtime: RuntimeDep, now: Now
) -> Response:
    """SPEC §6.2. `pending` lists the public events the published checkpoint does not
    cover yet; the answer then carries `Retry-After`. A request nothing of which is public
    is a 404 like one that does not exist."""
    retry: dict[str, str] = {}

    async def render() -> tuple[bytes, int, Shown]:
        state = await source.get_state(request_id)
        if state is None or public_request(state, now) is None:
            raise NotFound(f"no public request {request_id}")
        receipt = await request_receipt(runtime, request_id, state)
        if receipt.retry_after is not None:
            retry["Retry-After"] = str(receipt.retry_after)
        # No records shown: the receipt moves with each published checkpoint, which no
        # record's date tells, so only its ETag answers a conditional request.
        return _json(receipt.body), 200, []

    answer = await _answer(request, source, now, "application/json", render)
    answer.headers.update(retry)
    return answer


@router.get(
    "/public/requests/{request_id}/events/{position}.tlog-proof",
    summary="One proved event of the request's receipt as a C2SP tlog-proof@v1 file",
    response_class=Response,
    responses=problem_openapi(NotFound),
)
async def get_public_tlog_proof(
    request: Request, request_id: str, position: int, source: Source, runtime: RuntimeDep, now: Now
) -> Response:
    """SPEC §6.2: the `tlog_proof` of the receipt's event at `position` (its entry: the JCS
    bytes of the event's disclosed form, as the receipt shows it), for any tlog-proof
    verifier with the log's policy (`/public/log/policy`). 404 unless the published
    checkpoint proves that event of a public request."""

    async def render() -> tuple[bytes, int, Shown]:
        state = await source.get_state(request_id)
        if state is None or public_request(state, now) is None:
            raise NotFound(f"no public request {request_id}")
        receipt = await request_receipt(runtime, request_id, state)
        for event in receipt.body["events"]:
            if event["position"] == position:
                return str(event["tlog_proof"]).encode(), 200, []
        raise NotFound(f"no proved event at position {position} of {request_id}")

    answer = await _answer(request, source, now, "text/plain; charset=utf-8", render)
    name = f"{request_id}-{position}.tlog-proof"
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return answer


PublicAsOf = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="a calendar day YYYY-MM-DD that has ended (2000-01-01 to yesterday, "
        "UTC): the statistics at its end",
    ),
]
PublicAtPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=2**62,
        description="the tree size of a checkpoint published by the end of yesterday (UTC)",
    ),
]


def _public_day(as_of: str | None, now: datetime) -> date | None:
    """The day a public `as_of` names; a 422 problem unless it has ended, from 2000 on."""
    if as_of is None:
        return None
    try:
        return public_day(as_of, now)
    except OutOfBounds as error:
        raise Unprocessable(f"as_of: {error}", rule=OutOfBounds.rule) from None
    except ValueError:
        raise Unprocessable(f"as_of: not a date YYYY-MM-DD: {as_of!r}") from None


@router.get(
    "/public/stats",
    summary="Public aggregate statistics at the end of yesterday (UTC), or of an earlier day",
    description="Computed from the log up to the newest checkpoint published by the end "
    "of yesterday (UTC), as of the end of that day or of `as_of`: the answer changes at "
    "most once a day (SPEC §7). `at_position` takes an older published checkpoint.",
    responses=problem_openapi(Unprocessable, Unavailable),
)
async def get_public_stats(
    request: Request,
    source: Source,
    statistics: Statistics,
    now: Now,
    as_of: PublicAsOf = None,
    at_position: PublicAtPosition = None,
) -> Response:
    day = _public_day(as_of, now)

    async def render() -> tuple[bytes, int, Shown]:
        return _json(await daily_statistics(statistics, now, day, at_position)), 200, []

    return await _answer(request, source, now, "application/json", render)


# --- feeds ---------------------------------------------------------------------------------


@router.get("/public/feed.atom", include_in_schema=False)
async def atom_feed(request: Request, source: Source, now: Now, base: PublicUrl) -> Response:
    async def render() -> tuple[bytes, int, Shown]:
        records = await _records(source, now)
        return feeds.atom_feed(records, base, _updated(records, now)), 200, records

    return await _answer(request, source, now, ATOM_MEDIA_TYPE, render)


@router.get("/public/feed.json", summary="JSON Feed 1.1 of public requests")
async def json_feed(request: Request, source: Source, now: Now, base: PublicUrl) -> Response:
    async def render() -> tuple[bytes, int, Shown]:
        records = await _records(source, now)
        return _json(feeds.json_feed(records, base)), 200, records

    return await _answer(request, source, now, JSON_FEED_MEDIA_TYPE, render)


@router.get("/public/requests.csv", include_in_schema=False)
async def requests_csv(request: Request, source: Source, now: Now) -> Response:
    async def render() -> tuple[str, int, Shown]:
        records = await _records(source, now)
        return feeds.csv_text(records), 200, records

    return await _answer(
        request,
        source,
        now,
        CSV_MEDIA_TYPE,
        render,
        extra_headers={"Content-Disposition": 'inline; filename="docket-exemptions.csv"'},
    )


# --- HTML ----------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def index_page(
    request: Request,
    source: Source,
    now: Now,
    status: str | None = None,
    year: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    # A form sends empty strings for "any"; unknown values filter nothing rather than fail.
    chosen_status = status if status in feeds.STATUS_CHOICES else None
    chosen_year = int(year) if year and year.isdigit() and len(year) == 4 else None

    async def render() -> tuple[str, int, Shown]:
        records = await _records(source, now)
        chosen = feeds.filter_records(records, chosen_status, chosen_year, q)
        try:
            items, next_cursor = feeds.page(chosen, cursor, feeds.DEFAULT_LIMIT)
        except feeds.BadCursor:
            items, next_cursor = feeds.page(chosen, None, feeds.DEFAULT_LIMIT)
        html = pages.render_index(
            items,
            status=chosen_status,
            year=chosen_year,
            q=q,
            years=feeds.years_of(records),
            total=len(chosen),
            next_cursor=next_cursor,
        )
        return html, 200, list(items)

    return await _answer(request, source, now, HTML_MEDIA_TYPE, render)


@router.get("/requests/{request_id}", include_in_schema=False)
async def request_page(request: Request, request_id: str, source: Source, now: Now) -> Response:
    async def render() -> tuple[str, int, Shown]:
        state = await source.get_state(request_id)
        record = None if state is None else public_request(state, now)
        if record is None:
            return pages.render_not_found(request_id), 404, []
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        witnessed = runtime is not None and bool(witness_policy(runtime)[0])
        return pages.render_request(record, now, witnessed=witnessed), 200, [record]

    return await _answer(request, source, now, HTML_MEDIA_TYPE, render)


@router.get("/stats", include_in_schema=False)
async def stats_page(
    request: Request,
    source: Source,
    statistics: Statistics,
    now: Now,
    as_of: str | None = None,
) -> Response:
    """The charts and tables of the public statistics at the end of yesterday (UTC), or
    of an earlier day; a day that is malformed, before 2000 or not over is a 400 page."""

    async def render() -> tuple[str, int, Shown]:
        try:
            day = None if as_of is None else public_day(as_of, now)
        except ValueError as error:  # OutOfBounds included
            shown = str(error) if isinstance(error, OutOfBounds) else "not a date YYYY-MM-DD"
            return pages.render_bad_day((as_of or "")[:40], shown), 400, []
        stats = await daily_statistics(statistics, now, day)
        latest = last_complete_day(now).isoformat()
        return pages.render_stats(stats, as_of=as_of, latest=latest), 200, []

    return await _answer(request, source, now, HTML_MEDIA_TYPE, render)


_STATIC = resources.files("service").joinpath("static")


def _static(request: Request, name: str, media_type: str) -> Response:
    body = _STATIC.joinpath(name).read_bytes()
    etag = f'"{name.rsplit(".", 1)[-1]}-' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/static/docket.css", include_in_schema=False)
async def stylesheet(request: Request) -> Response:
    return _static(request, "docket.css", "text/css; charset=utf-8")


@router.get("/static/receipt.js", include_in_schema=False)
async def receipt_script(request: Request) -> Response:
    """The in-page receipt check (WebCrypto): the request pages load it."""
    return _static(request, "receipt.js", "text/javascript; charset=utf-8")
