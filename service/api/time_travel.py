"""Collection reads as of a moment (SPEC §5): `as_of` (business time) and `at_position`
(what the log held then), alone or together, on `GET /v1/requests`,
`GET /v1/members/{member}/holds`, `GET /v1/stats/*` and `GET /public/stats`, answered
from the bitemporal projection (`projections.intervals.queries`).

Every such answer says the moment it reflects: `as_of` and `at_position` in the body
(the position given, or the one the projection had reached) and `X-Docket-Position`.
A position beyond the log's head is refused (422): an answer there could still change;
so is an `as_of` after now or before 2000 (`service.platform.moments.within_bounds`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from events.model import utc_text
from projections.intervals.queries import Moment
from projections.intervals.tables import NAME as INTERVALS
from service.errors import Unavailable, Unprocessable
from service.platform.moments import OutOfBounds, as_of_within_bounds
from service.runtime import Runtime

AsOf = Annotated[
    str | None,
    Query(
        max_length=40,
        description="business time: RFC 3339, or YYYY-MM-DD for the end of that day (UTC)",
    ),
]
AtPosition = Annotated[
    int | None, Query(ge=0, le=2**62, description="what the log held at this position")
]

#: How long a read as of a position waits for the projection to reach it.
CATCH_UP_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Asked:
    """A moment to read at, and the log position the answer reflects."""

    moment: Moment
    position: int

    def stamp(self, *, with_position: bool = True) -> dict[str, Any]:
        """The moment in the body; the position only to those told positions (SPEC §7)."""
        stamp: dict[str, Any] = {"as_of": utc_text(self.moment.as_of)}
        if with_position:
            stamp["at_position"] = self.position
        return stamp

    def headers(self) -> dict[str, str]:
        """`X-Docket-Position`: `service.api.read_side` takes it off any answer but an
        overseer's."""
        return {"X-Docket-Position": str(self.position)}


def parse_time(text: str, name: str, now: datetime) -> datetime:
    """The moment `text` names, between 2000-01-01 and `now`; else a 422 problem (named
    `as-of-within-bounds` when the moment is well formed but out of bounds)."""
    try:
        return as_of_within_bounds(text, now)
    except OutOfBounds as error:
        raise Unprocessable(f"{name}: {error}", rule=OutOfBounds.rule) from None
    except ValueError:
        raise Unprocessable(
            f"{name}: neither an RFC 3339 time with a zone nor a date YYYY-MM-DD: {text!r}"
        ) from None


async def asked(
    runtime: Runtime, as_of: str | None, at_position: int | None, *, tell_positions: bool = True
) -> Asked | None:
    """The moment of a read (None: a read of the present, as before), once the
    projection has applied everything up to it. Without `tell_positions` (an
    applicant's read, SPEC §7) a 503 names no position."""
    if as_of is None and at_position is None:
        return None
    now = runtime.clock()
    when = parse_time(as_of, "as_of", now) if as_of is not None else now
    head, _ = await runtime.store.head()
    if at_position is not None and at_position > head:
        raise Unprocessable(
            f"at_position {at_position} is beyond the log's head ({head})",
            rule="at-position-within-log",
        )
    wanted = head if at_position is None else at_position
    reached = await reach(runtime, wanted, tell_positions=tell_positions)
    return Asked(Moment(when, at_position), wanted if at_position is not None else reached)


async def reach(runtime: Runtime, wanted: int, *, tell_positions: bool = True) -> int:
    """The intervals projection's position once it has reached `wanted` (waiting a
    bounded time); 503 with `Retry-After` rather than an answer from before it."""
    reached = await _reached(runtime, wanted)
    if reached < wanted:
        raise Unavailable(
            f"the projections are at position {reached}, not yet at {wanted}"
            if tell_positions
            else "the projections are behind the log; retry shortly",
            slug="projections-behind",
            title="Projections behind the log",
            headers={"Retry-After": "1"},
        )
    return reached


async def caught_up(runtime: Runtime, bound_seconds: float = 2.0) -> None:
    """Read-your-writes for reads of the projections: wait (bounded) until they reach
    the log's head."""
    runner = runtime.runner
    head, _ = await runtime.store.head()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_seconds
    while min((await runner.checkpoints()).values()) < head and loop.time() < deadline:
        runner.notify()
        await asyncio.sleep(0.02)


async def _reached(runtime: Runtime, wanted: int) -> int:
    runner = runtime.runner
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_SECONDS
    while True:
        reached = (await runner.checkpoints()).get(INTERVALS, 0)
        if reached >= wanted or loop.time() >= deadline:
            return reached
        runner.notify()
        await asyncio.sleep(0.02)
