"""The secretariat's commands (SPEC §6): one path per event, every answer with its position."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel

from service.api.applicants import (
    check_owner,
    refuse_occurred_at,
    told_to,
    without_hidden_times,
)
from service.api.auth import AnyCaller, Secretariat
from service.api.json_answer import JsonAnswer
from service.api.problems import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    problem_openapi,
)
from service.commands.erasure import Erase
from service.commands.erasure import erase as erase_events
from service.commands.service import CommandService, Meta, Outcome
from service.errors import DocketError
from service.platform.tokens import Caller
from service.rules import commands as cmd
from service.runtime import Runtime

router = APIRouter(tags=["commands"])

RequestIdPath = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{2,39}$", alias="id")]
MemberPath = Annotated[str, Path(pattern=r"^[A-Z]{3}$")]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", pattern=r"^[\x21-\x7e]{1,200}$")
]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=40)]
_PROBLEMS = problem_openapi(
    Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed, Unprocessable
)


class CommandAnswer(BaseModel):
    """Every 2xx answer of a command."""

    request_id: str | None = None
    position: int | None
    stream_version: int | None
    events: list[dict[str, Any]]


class ReleaseAllAnswer(CommandAnswer):
    released: list[str]


def if_match_version(value: str | None) -> int | None:
    """The stream version an `If-Match` names (`"3"`, `W/"3"`), None without one."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Unprocessable('If-Match must be a stream version in quotes, e.g. "3"')
    return int(text)


def _meta(request: Request, caller: Caller, key: str | None, if_match: str | None) -> Meta:
    return Meta(
        caller=caller,
        correlation_id=request.scope.get("state", {}).get("correlation_id", ""),
        idempotency_key=key,
        if_match=if_match_version(if_match),
    )


async def _service(request: Request) -> CommandService:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per call;
    # the runtime from the request, not a `get_runtime` sub-dependency (resolved per request)
    runtime: Runtime = request.app.state.runtime
    return runtime.commands


Commands = Annotated[CommandService, Depends(_service)]


def respond(outcome: Outcome) -> JsonAnswer:
    """A command's 2xx answer: its body, status and the stream version as `ETag`."""
    headers = {}
    if outcome.stream_version is not None:
        headers["ETag"] = f'"{outcome.stream_version}"'
    return JsonAnswer(outcome.body, status_code=outcome.status_code, headers=headers)


async def _run(coro: Any) -> JsonAnswer:
    # A broken rule is a `DocketError`: it goes up to the problem handler as it is.
    return respond(await coro)


def _request_route(path: str, model: type[cmd.Command], summary: str) -> None:
    async def endpoint(
        request: Request,
        request_id: RequestIdPath,
        body: model,  # type: ignore[valid-type]
        caller: Secretariat,
        commands: Commands,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> JsonAnswer:
        meta = _meta(request, caller, idempotency_key, if_match)
        return await _run(commands.on_request(request_id, body, meta))

    endpoint.__name__ = "command_" + model.__name__
    router.post(path, summary=summary, response_model=CommandAnswer, responses=_PROBLEMS)(endpoint)


@router.post(
    "/v1/requests",
    summary="Submit a request (RequestSubmitted)",
    status_code=201,
    response_model=CommandAnswer,
    responses=_PROBLEMS,
)
async def submit_request(
    request: Request,
    body: cmd.SubmitRequest,
    caller: Secretariat,
    commands: Commands,
    idempotency_key: IdempotencyKey = None,
) -> JsonAnswer:
    return await _run(commands.submit(body, _meta(request, caller, idempotency_key, None)))


_REQUEST_COMMANDS: list[tuple[str, type[cmd.Command], str]] = [
    ("/v1/requests/{id}/circulate", cmd.Circulate, "Circulate under the no-objection procedure"),
    ("/v1/requests/{id}/holds", cmd.PlaceHold, "Place a hold (HoldPlaced)"),
    (
        "/v1/requests/{id}/information-requests",
        cmd.RequestInformation,
        "Ask the applicant for information",
    ),
    ("/v1/requests/{id}/reviews", cmd.RecordReview, "Record a review step"),
    ("/v1/requests/{id}/decision", cmd.Decide, "Approve or refuse the open procedure"),
    ("/v1/requests/{id}/extensions", cmd.RequestExtension, "Open an extension procedure"),
    ("/v1/requests/{id}/amendments", cmd.RequestAmendment, "Open an amendment procedure"),
    ("/v1/requests/{id}/withdraw", cmd.Withdraw, "Withdraw the request"),
    ("/v1/requests/{id}/shipments", cmd.RecordShipment, "Record a shipment"),
    ("/v1/requests/{id}/annotations", cmd.Annotate, "Annotate an entry of the log"),
    ("/v1/requests/{id}/retractions", cmd.Retract, "Retract an entry of the log"),
]
for _path, _model, _summary in _REQUEST_COMMANDS:
    _request_route(_path, _model, _summary)

#: the body model of each `/v1/requests/{id}/<command>` (`service.api.command_path`)
REQUEST_COMMANDS: dict[str, type[cmd.Command]] = {
    path.rsplit("/", 1)[1]: model for path, model, _ in _REQUEST_COMMANDS
}


@router.post(
    "/v1/requests/{id}/holds/{member}/release",
    summary="Release a member's hold (HoldReleased)",
    response_model=CommandAnswer,
    responses=_PROBLEMS,
)
async def release_hold(
    request: Request,
    request_id: RequestIdPath,
    member: MemberPath,
    body: cmd.ReleaseHold,
    caller: Secretariat,
    commands: Commands,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> JsonAnswer:
    meta = _meta(request, caller, idempotency_key, if_match)
    return await _run(commands.on_request(request_id, body, meta, member=member))


@router.post(
    "/v1/requests/{id}/information-responses",
    summary="Answer an information request (secretariat, or the applicant for its own)",
    response_model=CommandAnswer,
    responses=_PROBLEMS,
)
async def provide_information(
    request: Request,
    request_id: RequestIdPath,
    body: cmd.ProvideInformation,
    caller: AnyCaller,
    commands: Commands,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> JsonAnswer:
    if caller.role == "auditor":
        raise Forbidden("auditors read; they do not answer information requests")
    await check_owner(request.app.state.runtime, caller, request_id)
    refuse_occurred_at(caller, body.occurred_at)
    meta = _meta(request, caller, idempotency_key, if_match)
    try:
        outcome = await commands.on_request(request_id, body, meta)
        return respond(told_to(caller, outcome))
    except DocketError as conflict:  # a broken rule (RuleBroken) or a Conflict
        told = without_hidden_times(caller, conflict)
        if told is conflict:
            raise
        raise told from None


@router.post(
    "/v1/members/{member}/release-all",
    summary="Release every hold a member has, atomically",
    response_model=ReleaseAllAnswer,
    responses=_PROBLEMS,
)
async def release_all(
    request: Request,
    member: MemberPath,
    body: cmd.ReleaseAll,
    caller: Secretariat,
    commands: Commands,
    idempotency_key: IdempotencyKey = None,
) -> JsonAnswer:
    meta = _meta(request, caller, idempotency_key, None)
    return await _run(commands.release_all(member, body, meta))


@router.post(
    "/v1/committee/members",
    summary="Seat a member (MemberSeated)",
    status_code=201,
    response_model=CommandAnswer,
    responses=_PROBLEMS,
)
async def seat_member(
    request: Request,
    body: cmd.SeatMember,
    caller: Secretariat,
    commands: Commands,
    idempotency_key: IdempotencyKey = None,
) -> JsonAnswer:
    return await _run(commands.seat_member(body, _meta(request, caller, idempotency_key, None)))


@router.post(
    "/v1/committee/members/{member}/depart",
    summary="A member leaves (MemberDeparted, and HoldLapsed in every request it holds)",
    response_model=CommandAnswer,
    responses=_PROBLEMS,
)
async def depart_member(
    request: Request,
    member: MemberPath,
    body: cmd.DepartMember,
    caller: Secretariat,
    commands: Commands,
    idempotency_key: IdempotencyKey = None,
) -> JsonAnswer:
    meta = _meta(request, caller, idempotency_key, None)
    return await _run(commands.depart_member(member, body, meta))


class ErasureAnswer(CommandAnswer):
    """`POST /v1/erasures`: the `ErasureRecorded` event, and what it erased."""

    erased: list[dict[str, Any]]


@router.post(
    "/v1/erasures",
    summary="Erase the sealed values of events (ErasureRecorded; SPEC §4 Erasure)",
    response_model=ErasureAnswer,
    responses=_PROBLEMS,
)
async def erase(
    request: Request,
    body: Erase,
    caller: Secretariat,
    commands: Commands,
    idempotency_key: IdempotencyKey = None,
) -> JsonAnswer:
    meta = _meta(request, caller, idempotency_key, None)
    return await _run(erase_events(commands, body, meta))
