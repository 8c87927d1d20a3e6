"""The read side's position on `/v1` reads (SPEC §9, R12), in one pure-ASGI middleware
rather than in each endpoint, and for overseers only (SPEC §7).

The position is the log's head give or take the lag, and the head moves with every
confidential event: only a secretariat or auditor is told it. So the middleware first
authenticates the caller of a `GET /v1/…` (through the token cache, as the routes do;
the caller is left on the request for them). For anyone else (no token, a bad one, an
applicant) it measures nothing, waits for nothing and takes `X-Docket-Position` off the
answer (an endpoint's own too, as a read as of a position sets it); on every other answer
of the process as well, so that the header never leaves but on an overseer's read.

For an overseer, before the read reaches its endpoint, the middleware measures the
position the read side reflects (`queries.read_side.read_side_position` on the read engine: a
replica when `DOCKET_READ_DATABASE_URL` is set), waiting for `X-Docket-Min-Position` if
asked, and puts it in `X-Docket-Position` on the answer. The read that follows sees at
least that position, because a replica and the projections only move forward. A minimum
beyond the log's head is a 422 at once; with `min_position_waiters` reads waiting already
a 503 `ReadSideBusy` at once; a read side behind the asked position past the bound is a
503 `ReadSideBehind` with `Retry-After`; a read side that cannot be reached (a stopped
replica) is a 503 too: never older data, never a 5xx other than 503.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.store import database_unavailable
from service.api.auth import OVERSEERS, bearer_caller
from service.api.problems import Unavailable, problem_response
from service.api.read_position import (
    MIN_POSITION_HEADER,
    POSITION_HEADER,
    Waiters,
    WaitPolicy,
    parse_min_position,
    wait_for_position,
)
from service.errors import DocketError
from service.queries.read_side import read_side_position

if TYPE_CHECKING:
    from service.runtime import Runtime

log = structlog.get_logger("docket.read_side")

_MIN_POSITION = MIN_POSITION_HEADER.lower().encode()
_POSITION = POSITION_HEADER.lower().encode()


def is_read(scope: Scope) -> bool:
    """A read of the authenticated API: `GET`/`HEAD` under `/v1/`."""
    return scope["method"] in ("GET", "HEAD") and str(scope["path"]).startswith("/v1/")


class ReadPositionMiddleware:
    """`X-Docket-Position` on every `/v1` read of an overseer, `X-Docket-Min-Position`
    waited for; neither for anyone else."""

    def __init__(self, app: ASGIApp, policy: WaitPolicy | None = None) -> None:
        self.app = app
        self.policy = policy or WaitPolicy()
        self._waiters: Waiters | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        if not is_read(scope):
            await self.app(scope, receive, _without_position(send))
            return
        try:
            overseer = await _overseer(runtime, scope)
        except Exception as error:
            if not database_unavailable(error):
                raise
            await _unreachable(error)(scope, receive, send)
            return
        if not overseer:
            await self.app(scope, receive, _without_position(send))
            return
        raw = dict(scope["headers"]).get(_MIN_POSITION)
        try:
            asked = parse_min_position(None if raw is None else raw.decode("latin-1"))

            async def source() -> int:
                async with runtime.read_engine.connect() as conn:
                    return await read_side_position(conn, runtime.runner.names)

            async def head() -> int:
                return (await runtime.store.head())[0]

            position = await wait_for_position(
                asked, source, self.policy, head=head, waiters=self.waiters(runtime)
            )
        except DocketError as refused:
            await problem_response(refused)(scope, receive, send)
            return
        except Exception as error:
            if not database_unavailable(error):
                raise
            await _unreachable(error)(scope, receive, send)
            return
        header = (_POSITION, str(position).encode())

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # an answer as of a past position names its own (`api/time_travel.py`)
                if all(name.lower() != _POSITION for name, _ in headers):
                    message["headers"] = [*headers, header]
            await send(message)

        await self.app(scope, receive, send_with_position)

    def waiters(self, runtime: Runtime) -> Waiters:
        """The process's cap on reads waiting (one middleware per app, one app per process)."""
        if self._waiters is None:
            self._waiters = Waiters(runtime.settings.min_position_waiters)
        return self._waiters


def _unreachable(error: Exception) -> ASGIApp:
    """The 503 of a database that cannot be reached (the token's or the read side's)."""
    log.warning("docket.read_side.unreachable", error=str(error).splitlines()[0][:200])
    unreachable = Unavailable(
        "the database is unreachable; retry shortly", headers={"Retry-After": "2"}
    )
    return problem_response(unreachable)


async def _overseer(runtime: Runtime, scope: Scope) -> bool:
    """Whether a secretariat or auditor token calls; if so it is left on the request, so
    that the routes do not look it up again (nor find it revoked after the wait)."""
    raw = dict(scope["headers"]).get(b"authorization")
    if raw is None:
        return False
    caller, digest = await bearer_caller(runtime, raw.decode("latin-1"))
    if caller is None or caller.role not in OVERSEERS:
        return False
    state = scope.setdefault("state", {})
    state["caller"], state["token_digest"] = caller, digest
    return True


def _without_position(send: Send) -> Send:
    """`send` with `X-Docket-Position` taken off the answer, whoever set it."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            if any(name.lower() == _POSITION for name, _ in headers):
                message["headers"] = [(n, v) for n, v in headers if n.lower() != _POSITION]
        await send(message)

    return sending
