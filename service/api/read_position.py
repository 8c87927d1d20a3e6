"""Read-your-writes on a read side that lags (SPEC §9, R12).

Every read answer says which log position it reflects (`X-Docket-Position`). A read that
carries `X-Docket-Min-Position: N` (a position a command answered) waits, polling with
back-off, until the read side reflects N, and otherwise answers 503 with `Retry-After`:
never data older than asked.

"The read side reflects p" means the replica has applied the log up to p *and* the
projections it serves are checkpointed at p or later, both as seen on the replica:
`service.queries.read_side.read_side_position` reads the minimum of the two. The
position is a lower bound of what the read that follows sees, because a replica only
moves forward; read it in the same snapshot (a REPEATABLE READ transaction) as the rows
to make it exact.

The position is the log's head, give or take the lag, and the head counts confidential
events (SPEC §7): only a secretariat or auditor is told it or may wait for one
(`service.api.read_side` authenticates first). A minimum beyond the log's head, which no
command can have answered, is refused at once (422 `min-position-beyond-log`), and at
most `Waiters.limit` reads of a process wait at once: the next is answered 503 with
`Retry-After` at once (`read-side-busy`), so held requests cannot pile up.

Pure except for the injected position sources and clock, so the timing rules are tested
with plain values.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass

from service.api.problems import Unavailable, Unprocessable

MIN_POSITION_HEADER = "X-Docket-Min-Position"
POSITION_HEADER = "X-Docket-Position"

#: Positions are BIGINT in the log; anything wider cannot have been answered by a command.
MAX_POSITION = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")

#: The position the read side reflects, measured now.
PositionSource = Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class WaitPolicy:
    """How long a read waits for the read side, and how often it looks."""

    bound_s: float = 2.0  # then 503: a client retrying is better than a request held open
    first_delay_s: float = 0.005
    max_delay_s: float = 0.1
    growth: float = 2.0

    def delays(self) -> list[float]:
        """The sleeps between looks, back-off capped, summing to the bound."""
        out: list[float] = []
        delay, total = self.first_delay_s, 0.0
        while total < self.bound_s:
            step = min(delay, self.max_delay_s, self.bound_s - total)
            out.append(step)
            total += step
            delay *= self.growth
        return out


class ReadSideBehind(Unavailable):
    """503: the replica or the projections have not reached the position asked."""

    slug, title = "read-side-behind", "The read side has not reached the position asked"


class ReadSideBusy(Unavailable):
    """503 at once: as many reads as this process allows wait for the read side already."""

    slug, title = "read-side-busy", "Too many reads are waiting for the read side"


class MinPositionBeyondLog(Unprocessable):
    """422 at once: a minimum beyond the log's head, which no command answered."""

    slug = rule = "min-position-beyond-log"
    title = "The minimum position is beyond the log's head"


class Waiters:
    """How many reads of this process wait for the read side, at most `limit`: a
    semaphore that is never waited on (a read over the limit is refused, not queued)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.waiting >= self.limit:
            raise ReadSideBusy(
                f"{self.limit} reads wait for the read side already; retry shortly",
                headers={"Retry-After": "1"},
            )
        self.waiting += 1
        try:
            yield
        finally:
            self.waiting -= 1


def parse_min_position(raw: str | None) -> int | None:
    """The value of `X-Docket-Min-Position`: None when absent, else a position ≥ 0.

    Anything else is the caller's mistake, a 422 naming the header (never a 500, and
    never a read that silently ignores what was asked)."""
    if raw is None:
        return None
    value = raw.strip()
    if not _DIGITS.fullmatch(value) or int(value) > MAX_POSITION:
        raise Unprocessable(
            f"{MIN_POSITION_HEADER} must be a log position (an integer from 0 to "
            f"{MAX_POSITION}), not {raw[:40]!r}",
            slug="invalid-min-position",
            header=MIN_POSITION_HEADER,
        )
    return int(value)


def retry_after_s(asked: int, reflected: int, policy: WaitPolicy) -> int:
    """Whole seconds for `Retry-After`: at least 1; the bound when far behind, because
    the replica is then lagging by more than a moment."""
    return 1 if asked - reflected <= 1 else max(1, math.ceil(policy.bound_s))


async def wait_for_position(
    asked: int | None,
    source: PositionSource,
    policy: WaitPolicy = WaitPolicy(),
    *,
    head: PositionSource | None = None,
    waiters: Waiters | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """The position the read side reflects, once it is ≥ `asked` (at once when `asked`
    is None); `ReadSideBehind` (503, `Retry-After`) when it is not within the bound.

    Before waiting: `MinPositionBeyondLog` when `asked` is beyond `head()` (the log's
    head on the primary), `ReadSideBusy` when `waiters` has no slot left."""
    reflected = await source()
    if asked is None or reflected >= asked:
        return reflected
    if head is not None and asked > (last := await head()):
        raise MinPositionBeyondLog(
            f"{MIN_POSITION_HEADER} {asked} is beyond the log's head ({last}): send a "
            "position a command answered",
            header=MIN_POSITION_HEADER,
        )
    if waiters is None:
        return await _wait(asked, reflected, source, policy, sleep, clock)
    with waiters.slot():
        return await _wait(asked, reflected, source, policy, sleep, clock)


async def _wait(
    asked: int,
    reflected: int,
    source: PositionSource,
    policy: WaitPolicy,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
) -> int:
    deadline = clock() + policy.bound_s
    for delay in policy.delays():
        remaining = deadline - clock()
        if remaining <= 0:
            break
        await sleep(min(delay, remaining))
        reflected = await source()
        if reflected >= asked:
            return reflected
    raise ReadSideBehind(
        f"the read side reflects position {reflected}, not yet {asked}; retry shortly",
        headers={
            "Retry-After": str(retry_after_s(asked, reflected, policy)),
            POSITION_HEADER: str(reflected),
        },
        asked=asked,
        reflected=reflected,
    )


def set_position(headers: MutableMapping[str, str], position: int) -> None:
    """Say on a read answer which log position it reflects."""
    headers[POSITION_HEADER] = str(position)


async def read_at_least(
    request_headers: Mapping[str, str],
    response_headers: MutableMapping[str, str],
    source: PositionSource,
    policy: WaitPolicy = WaitPolicy(),
) -> int:
    """The whole rule for one read: parse `X-Docket-Min-Position`, wait for it, set
    `X-Docket-Position`. Returns the position the read reflects."""
    asked = parse_min_position(request_headers.get(MIN_POSITION_HEADER))
    reflected = await wait_for_position(asked, source, policy)
    set_position(response_headers, reflected)
    return reflected
