"""The secretariat's commands (SPEC §6): one route per command of the table
(`service.commands.table`), every answer with its position.

Each route is built from its command's entry: the path and its parameters, the body's
model, who may send it, the status and the answer's model, so that the OpenAPI document
lists every command as the table has it. A command an applicant may send (an answer to
an information request) is told as applicants are told (`service.api.applicants`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import Parameter, Signature
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request

from service.api.applicants import (
    check_owner,
    refuse_occurred_at,
    told_to,
    without_hidden_times,
)
from service.api.auth import authenticate
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
from service.commands.outcome import Meta, Outcome
from service.commands.service import CommandService
from service.commands.table import COMMANDS, PATH_PARAMETERS, CommandSpec
from service.errors import DocketError
from service.platform.tokens import Caller
from service.rules import commands as cmd
from service.runtime import Runtime

router = APIRouter(tags=["commands"])

#: each path parameter's annotation, by its name in the path (`id` is `request_id` here)
_PATH_ANNOTATIONS: dict[str, tuple[str, Any]] = {
    "id": (
        "request_id",
        Annotated[str, Path(pattern=f"^{PATH_PARAMETERS['id']}$", alias="id")],
    ),
    "member": ("member", Annotated[str, Path(pattern=f"^{PATH_PARAMETERS['member']}$")]),
}
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"
IF_MATCH_MAX_LENGTH = 40
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)
]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=IF_MATCH_MAX_LENGTH)]
_PROBLEMS = problem_openapi(
    Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed, Unprocessable
)


def if_match_version(value: str | None) -> int | None:
    """The stream version an `If-Match` names (`"3"`, `W/"3"`), None without one."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Unprocessable('If-Match must be a stream version in quotes, e.g. "3"')
    return int(text)


def refused(spec: CommandSpec, caller: Caller) -> Forbidden | None:
    """The 403 for a caller whose role may not send `spec`, None if it may."""
    if caller.role in spec.roles:
        return None
    who = " or the ".join(sorted(spec.roles))
    return Forbidden(f"only the {who} records this; the token's role is {caller.role}")


def _sender(spec: CommandSpec) -> Callable[[Caller], Awaitable[Caller]]:
    """The dependency that admits the roles of `spec` (after the bearer token)."""

    async def sender(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if (refusal := refused(spec, caller)) is not None:
            raise refusal
        return caller

    return sender


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


async def _as_told(
    runtime: Runtime, spec: CommandSpec, run: Callable[[], Awaitable[Outcome]], caller: Caller
) -> Outcome:
    """`run()` for a caller of a command applicants may send: an applicant's own request
    only, no `occurred_at` of its choosing, and an answer without what it may not see."""
    if "applicant" not in spec.roles:
        return await run()
    try:
        return told_to(caller, await run())
    except DocketError as conflict:  # a broken rule (RuleBroken) or a Conflict
        told = without_hidden_times(caller, conflict)
        if told is conflict:
            raise
        raise told from None


def _endpoint(spec: CommandSpec) -> Callable[..., Awaitable[JsonAnswer]]:
    """The route's function of `spec`, its signature (what FastAPI reads: the path's
    parameters, the body's model, the caller's roles, the headers) from the table."""
    on_request = spec.scope == "request"

    async def endpoint(
        request: Request,
        body: cmd.Command,
        caller: Caller,
        commands: CommandService,
        idempotency_key: str | None = None,
        if_match: str | None = None,
        request_id: str | None = None,
        member: str | None = None,
    ) -> JsonAnswer:
        runtime: Runtime = request.app.state.runtime
        if "applicant" in spec.roles and request_id is not None:
            await check_owner(runtime, caller, request_id)
            refuse_occurred_at(caller, body.occurred_at)
        meta = Meta(
            caller=caller,
            correlation_id=request.scope.get("state", {}).get("correlation_id", ""),
            idempotency_key=idempotency_key,
            if_match=if_match_version(if_match),
        )

        def run() -> Awaitable[Outcome]:
            return commands.run(body, meta, request_id=request_id, member=member)

        # A broken rule is a `DocketError`: it goes up to the problem handler as it is.
        return respond(await _as_told(runtime, spec, run, caller))

    keyword = Parameter.KEYWORD_ONLY
    parameters = [Parameter("request", keyword, annotation=Request)]
    parameters += [
        Parameter(_PATH_ANNOTATIONS[name][0], keyword, annotation=_PATH_ANNOTATIONS[name][1])
        for name in spec.parameters
    ]
    parameters += [
        Parameter("body", keyword, annotation=spec.body),
        Parameter("caller", keyword, annotation=Annotated[Caller, Depends(_sender(spec))]),
        Parameter("commands", keyword, annotation=Commands),
        Parameter("idempotency_key", keyword, annotation=IdempotencyKey, default=None),
    ]
    if on_request:  # `If-Match` names a request's stream version
        parameters.append(Parameter("if_match", keyword, annotation=IfMatch, default=None))
    endpoint.__signature__ = Signature(parameters, return_annotation=JsonAnswer)  # type: ignore[attr-defined]
    endpoint.__name__ = spec.name
    return endpoint


for _spec in COMMANDS:
    router.add_api_route(
        _spec.path,
        _endpoint(_spec),
        methods=["POST"],
        summary=_spec.summary,
        status_code=_spec.status_code if _spec.status_code != 200 else None,
        response_model=_spec.answer,
        responses=_PROBLEMS,
    )
