"""Public statistics once a day (SPEC §7): `/public/stats` and the `/stats` page.

They are computed from the log up to a published checkpoint and as of the end of a UTC
day that has ended: by default the last complete day, at the newest checkpoint published
by its end. Both are fixed for the whole of the next day, so the answer (and its ETag and
Last-Modified) moves at most once a day, at midnight UTC, and a confidential submission
shows in it only the next day, with every other event of its day: polling the statistics
times nothing. A later checkpoint, or a day that has not ended, is refused.

`StatisticsReader` is where the figures come from: the running service
(`RuntimeStatistics`: the checkpoints, and the bitemporal projection of
`projections.intervals.queries`) or a fixed set of state views (`FixedStatistics`: tests,
previews).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from projections.intervals.queries import Moment
from projections.public import public_statistics
from service.api import time_travel
from service.errors import Unavailable, Unprocessable
from service.platform.moments import end_of_day, last_complete_day
from service.queries.as_of import public_stats_as_of
from service.queries.publication import published_checkpoint
from service.runtime import Runtime

NOT_A_CHECKPOINT = "public-position-is-a-checkpoint"


class StatisticsReader(Protocol):
    """What public statistics are read from."""

    async def published_size(self, by: datetime) -> int:
        """The tree size of the newest checkpoint published by `by` (0: none)."""
        ...

    async def is_checkpoint(self, size: int) -> bool:
        """Whether the log signed a checkpoint of `size`."""
        ...

    async def statistics(self, moment: Moment) -> dict[str, Any]:
        """`projections.public.public_statistics` of the requests as of `moment`."""
        ...


async def daily_statistics(
    reader: StatisticsReader,
    now: datetime,
    day: date | None = None,
    at_position: int | None = None,
) -> dict[str, Any]:
    """The public statistics at the end of `day` (default: the last complete one at
    `now`; the caller checks that a given day has ended, `service.platform.moments.public_day`),
    from the log up to `at_position` (default: the newest checkpoint published by the end
    of the last complete day; a given one must be that or an older checkpoint).

    The answer names its day (`as_of`, a date) and the checkpoint's tree size
    (`at_position`), never the log's head."""
    last = last_complete_day(now)
    published = await reader.published_size(end_of_day(last))
    if at_position is None:
        position = published
    elif at_position <= published and await reader.is_checkpoint(at_position):
        position = at_position
    else:
        raise Unprocessable(
            f"at_position {at_position} is not the tree size of a checkpoint published "
            f"by the end of {last.isoformat()}",
            rule=NOT_A_CHECKPOINT,
        )
    shown = last if day is None else day
    found = await reader.statistics(Moment(end_of_day(shown), position))
    return {**found, "as_of": shown.isoformat(), "at_position": position}


class RuntimeStatistics:
    """Public statistics of the running service."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def published_size(self, by: datetime) -> int:
        published = await published_checkpoint(self.runtime, by=by)
        return 0 if published is None else published.size

    async def is_checkpoint(self, size: int) -> bool:
        return any(c.tree_size == size for c in await self.runtime.tree.checkpoints())

    async def statistics(self, moment: Moment) -> dict[str, Any]:
        runtime = self.runtime
        try:
            await time_travel.reach(runtime, moment.at_position or 0)
        except Unavailable:
            # No position in the detail or the headers: a public answer never tells
            # how far the log or its projections have gone (SPEC §7).
            raise Unavailable(
                "the public statistics are not ready; try again shortly",
                slug="projections-behind",
                title="Projections behind the log",
                headers={"Retry-After": "1"},
            ) from None
        async with runtime.read_engine.connect() as conn:
            return await public_stats_as_of(conn, moment)


class FixedStatistics:
    """Public statistics of fixed state views, the log they stand for having one
    checkpoint of `size` (tests, previews): each day's figures are those views' as of
    its end."""

    def __init__(self, views: Sequence[Mapping[str, Any]], size: int) -> None:
        self.views = list(views)
        self.size = size

    async def published_size(self, by: datetime) -> int:
        return self.size

    async def is_checkpoint(self, size: int) -> bool:
        return size == self.size

    async def statistics(self, moment: Moment) -> dict[str, Any]:
        return public_statistics(self.views, moment.as_of)
