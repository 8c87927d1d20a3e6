"""The read side's position on every `/v1` read (SPEC §9, R12), in one pure-ASGI middleware
rather than in each endpoint.

Before a `GET /v1/…` reaches its endpoint, the middleware measures the position the read
side reflects (`read_position.read_side_position` on the read engine: a replica when
`DOCKET_READ_DATABASE_URL` is set), waiting for `X-Docket-Min-Position` if asked, and
puts it in `X-Docket-Position` on the answer. The read that follows sees at least that
position, because a replica and the projections only move forward. A read side behind
the asked position past the bound is a 503 `ReadSideBehind` with `Retry-After`; a read
side that cannot be reached (a stopped replica) is a 503 too: never older data, never a
5xx other than 503.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.store import database_unavailable
from service.api.problems import Unavailable, problem_response
from service.errors import DocketError
from service.read_position import (
    MIN_POSITION_HEADER,
    POSITION_HEADER,
    WaitPolicy,
    parse_min_position,
    read_side_position,
    wait_for_position,
)

if TYPE_CHECKING:
    from service.runtime import Runtime

log = structlog.get_logger("docket.read_side")

_MIN_POSITION = MIN_POSITION_HEADER.lower().encode()
_POSITION = POSITION_HEADER.lower().encode()


def is_read(scope: Scope) -> bool:
    """A read of the authenticated API: `GET`/`HEAD` under `/v1/`."""
    return scope["method"] in ("GET", "HEAD") and str(scope["path"]).startswith("/v1/")


class ReadPositionMiddleware:
    """`X-Docket-Position` on every `/v1` read; `X-Docket-Min-Position` waited for."""

    def __init__(self, app: ASGIApp, policy: WaitPolicy | None = None) -> None:
        self.app = app
        self.policy = policy or WaitPolicy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_read(scope):
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        raw = dict(scope["headers"]).get(_MIN_POSITION)
        try:
            asked = parse_min_position(None if raw is None else raw.decode("latin-1"))

            async def source() -> int:
                async with runtime.read_engine.connect() as conn:
                    return await read_side_position(conn, runtime.runner.names)

            position = await wait_for_position(asked, source, self.policy)
        except DocketError as refused:
            await problem_response(refused)(scope, receive, send)
            return
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("docket.read_side.unreachable", error=str(error).splitlines()[0][:200])
            unreachable = Unavailable(
                "the read database is unreachable; retry shortly", headers={"Retry-After": "2"}
            )
            await problem_response(unreachable)(scope, receive, send)
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
