"""The secretariat's commands on a short path (B2): each command of the table
(`service.commands.table`) that only the secretariat sends, served by one pure-ASGI step
in front of the router.

Under B2's load about half of a command's CPU was FastAPI's request machinery (route
matching over the included routers, dependency resolution, the body's parsing and
validation through the route's field, the answer's class): several times the command's
own decide. This step does the same work directly for what it fully understands, a
secretariat's well-formed token, a JSON body the command's model accepts and (on a
request's command) an optional well-formed `If-Match`, and answers as the routes of
`service.api.commands` do: the same entry of the table, the same `CommandService.run`,
`respond`, and the problem handlers of `service.api.problems` for every error raised.
Everything else (no token or a bad one, another role, a body the model refuses, an
`Idempotency-Key`, another content type, a command an applicant may send) goes on to
the app unchanged, its body replayed, so that every refusal is the routes' own problem
document. The routes stay: they are the OpenAPI document and the path of everything
handed on.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.auth import bearer_caller
from service.api.commands import IF_MATCH_MAX_LENGTH, if_match_version, refused, respond
from service.api.middleware import read_body, replay
from service.api.problems import error_answer
from service.commands.outcome import Meta
from service.commands.table import COMMANDS, PATH_PARAMETERS, SECRETARIAT, CommandSpec
from service.errors import DocketError
from service.rules import commands as cmd

if TYPE_CHECKING:
    from service.runtime import Runtime


def _pattern(path: str) -> re.Pattern[str]:
    """A command's path template as a pattern, its parameters as named groups."""
    pattern = re.escape(path)
    for name, value in PATH_PARAMETERS.items():
        pattern = pattern.replace(re.escape(f"{{{name}}}"), f"(?P<{name}>{value})")
    return re.compile(f"^{pattern}$")


def _key(path: str) -> tuple[int, str]:
    """What picks a command's path out at once: its segments' count and its last
    segment (every command's path ends with a literal one)."""
    return path.count("/"), path.rsplit("/", 1)[-1]


#: The commands served here, by their paths' keys, with their paths' patterns: those only
#: the secretariat sends (an applicant's answer is checked against its own requests by
#: the route). Looked up by key, then matched once (17 patterns in turn cost 8.5 µs).
_SERVED: dict[tuple[int, str], tuple[re.Pattern[str], CommandSpec]] = {
    _key(spec.path): (_pattern(spec.path), spec) for spec in COMMANDS if spec.roles == SECRETARIAT
}
assert len(_SERVED) == sum(spec.roles == SECRETARIAT for spec in COMMANDS), "two paths, one key"
assert not any(key[1].startswith("{") for key in _SERVED), "a path ends with a parameter"


class CommandShortPath:
    """Serves the commands it fully understands; hands on everything else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        target = _target(scope["path"])
        if target is None:
            await self.app(scope, receive, send)
            return
        spec, path_parameters = target
        headers = dict(scope["headers"])
        if b"idempotency-key" in headers or not _json(headers.get(b"content-type", b"")):
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        body: bytes | None = b""
        answer: Response | None = None
        try:
            # no limit of its own: `RequestContextMiddleware`'s receive refuses past it
            body, _ = await read_body(receive, sys.maxsize)
            if body is None:  # the client went away
                return
            meta = await _meta(runtime, spec, scope, headers)
            command = _command(spec.body, body) if meta is not None else None
            if meta is not None and command is not None:
                scope["route"] = self._route(scope, spec.path)
                outcome = await runtime.commands.run(
                    command,
                    meta,
                    request_id=path_parameters.get("id"),
                    member=path_parameters.get("member"),
                )
                answer = respond(outcome)
        except Exception as error:  # the body limit, the database away, a broken rule…:
            answer = await error_answer(error)  # answered as the routes answer them
        if answer is None:
            await self.app(scope, replay(body or b"", receive), send)
            return
        await answer(scope, receive, send)

    def _route(self, scope: Scope, template: str) -> Any:
        """The app's route of `template` (for the metrics' path label)."""
        if self._routes is None:
            self._routes = {
                getattr(route, "path", ""): route
                for route in scope["app"].routes
                if "POST" in (getattr(route, "methods", None) or ())
            }
        return self._routes.get(template)


def _target(path: str) -> tuple[CommandSpec, dict[str, str]] | None:
    """The command served here whose path `path` is, and the path's parameters; None
    for any other path."""
    served = _SERVED.get(_key(path))
    if served is None:
        return None
    pattern, spec = served
    found = pattern.match(path)
    return None if found is None else (spec, found.groupdict())


def _json(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


async def _meta(
    runtime: Runtime, spec: CommandSpec, scope: Scope, headers: dict[bytes, bytes]
) -> Meta | None:
    """The command's metadata for a live token of a role `spec` admits and (on a
    request's command) a well-formed `If-Match`, else None (the routes then say what is
    wrong)."""
    caller, _ = await bearer_caller(runtime, headers.get(b"authorization", b"").decode("latin-1"))
    if caller is None or refused(spec, caller) is not None:
        return None
    raw = headers.get(b"if-match") if spec.scope == "request" else None
    if raw is not None and len(raw) > IF_MATCH_MAX_LENGTH:  # the routes' `max_length`
        return None
    try:
        if_match = if_match_version(None if raw is None else raw.decode("latin-1"))
    except DocketError:
        return None
    return Meta(
        caller=caller,
        correlation_id=scope.get("state", {}).get("correlation_id", ""),
        idempotency_key=None,
        if_match=if_match,
    )


def _command(model: type[cmd.Command], body: bytes) -> cmd.Command | None:
    """The body as `model`, validated as FastAPI validates it (Python mode, from the
    decoded JSON), or None."""
    try:
        return model.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError, ValueError, OverflowError):
        return None
