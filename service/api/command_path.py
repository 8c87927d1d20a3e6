"""The request commands on a short path (B2): `POST /v1/requests/{id}/<command>` and a
hold's release, served by one pure-ASGI step in front of the router.

Under B2's load about half of a command's CPU was FastAPI's request machinery (route
matching over the included routers, dependency resolution, the body's parsing and
validation through the route's field, the answer's class): several times the command's
own decide. This step does the same work directly for what it fully understands, a
secretariat's well-formed token, a JSON body the command's model accepts and an optional
well-formed `If-Match`, and answers as the routes of `service.api.commands` do (the same
`CommandService` call, `respond`, and the problem handlers of `service.api.problems` for
every error raised). Everything else (no token or a bad one, another role, a body the
model refuses, an `Idempotency-Key`, another content type) goes on to the app unchanged,
its body replayed, so that every refusal is the routes' own problem document. The routes
stay: they are the OpenAPI document and the path of everything handed on.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.auth import current_caller
from service.api.commands import REQUEST_COMMANDS, if_match_version, respond
from service.api.middleware import read_body, replay
from service.api.problems import error_answer
from service.api.token_cache import token_digest, well_formed
from service.commands.service import Meta
from service.errors import DocketError
from service.rules import commands as cmd

if TYPE_CHECKING:
    from service.runtime import Runtime

_REQUEST_ID = r"[A-Z0-9][A-Z0-9-]{2,39}"
_COMMAND = re.compile(
    rf"^/v1/requests/(?P<id>{_REQUEST_ID})/(?P<command>[a-z-]+)"
    r"(?:/(?P<member>[A-Z]{3})/release)?$"
)
#: the path templates of the routes served here (the metrics label them by template)
_RELEASE_TEMPLATE = "/v1/requests/{id}/holds/{member}/release"


class CommandShortPath:
    """Serves the request commands it fully understands; hands on everything else."""

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
        template, model, request_id, member = target
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
            meta = await _meta(runtime, scope, headers)
            command = _command(model, body) if meta is not None else None
            if meta is not None and command is not None:
                scope["route"] = self._route(scope, template)
                outcome = await runtime.commands.on_request(
                    request_id, command, meta, member=member
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


def _target(path: str) -> tuple[str, type[cmd.Command], str, str | None] | None:
    """For a request command's path: its route template, body model, request id and
    member (a hold's release); None for any other path."""
    found = _COMMAND.match(path)
    if found is None:
        return None
    request_id, command, member = found["id"], found["command"], found["member"]
    if member is not None:  # only `holds/{member}/release` has one
        if command != "holds":
            return None
        return _RELEASE_TEMPLATE, cmd.ReleaseHold, request_id, member
    model = REQUEST_COMMANDS.get(command)
    return None if model is None else (f"/v1/requests/{{id}}/{command}", model, request_id, None)


def _json(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


async def _meta(runtime: Runtime, scope: Scope, headers: dict[bytes, bytes]) -> Meta | None:
    """The command's metadata for a live secretariat token and a well-formed `If-Match`,
    else None (the routes then say what is wrong)."""
    scheme, _, secret = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not well_formed(secret):
        return None
    caller = await current_caller(runtime, token_digest(secret))
    if caller is None or caller.role != "secretariat":
        return None
    raw = headers.get(b"if-match")
    if raw is not None and len(raw) > 40:  # the routes' `max_length`
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
