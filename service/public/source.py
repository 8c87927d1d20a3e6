"""Where public outputs read their data: the `request_state` projection (and a request's
stream, for its whole view), by interface."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from events.read_engine import ReadEngine
from events.store import EventStore
from events.types import request_stream
from projections import tables
from projections.read_models.request_state import PUBLIC_COLUMNS, public_of
from projections.request import fold, view


class PublicSource(Protocol):
    """The reads public outputs need. Views are unredacted state documents: callers pass
    them through `projections.public` before anything leaves the process."""

    async def list_states(self) -> Sequence[Mapping[str, Any]]:
        """The public part (`projections.request.public_view`) of the view of every
        request the public may see, each as of its last event (its times may be
        datetimes and its days dates)."""
        ...

    async def get_state(self, request_id: str) -> Mapping[str, Any] | None:
        """The whole view of the request as of its last event, or None."""
        ...

    async def last_position(self) -> int:
        """The log position the views reflect (the projection's checkpoint)."""
        ...

    async def last_modified(self) -> datetime:
        """When the event at `last_position` was recorded (epoch when empty)."""
        ...


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_request_state = tables.request_state
_checkpoints = tables.projection_checkpoints
_PUBLIC_COLUMNS = [_request_state.c[name] for name in PUBLIC_COLUMNS.values()]


class SqlPublicSource:
    """Reads helper tables with SQLAlchemy Core on the read engine (may be a replica)."""

    def __init__(
        self, engine: ReadEngine, log: EventStore, projection: str = "request_state"
    ) -> None:
        self.engine = engine
        self.log = log
        self.projection = projection

    async def list_states(self) -> list[Mapping[str, Any]]:
        document = _request_state.c.public_document
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(*_PUBLIC_COLUMNS, document).where(document.is_not(None))
            )
            return [public for row in rows if (public := public_of(row._mapping)) is not None]

    async def get_state(self, request_id: str) -> Mapping[str, Any] | None:
        """The request's stream folded up to the position its `request_state` row
        reflects: the view the public feeds' record of it was made from."""
        async with self.engine.connect() as conn:
            position = await conn.scalar(
                sa.select(_request_state.c.position).where(
                    _request_state.c.request_id == request_id
                )
            )
        if position is None:
            return None
        stream = await self.log.read_stream(request_stream(request_id), to_position=position)
        state = fold(stream)
        return None if state is None else view(state, state.last_occurred_at)

    async def last_position(self) -> int:
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                sa.select(_checkpoints.c.position).where(_checkpoints.c.name == self.projection)
            )
            return int(value or 0)

    async def last_modified(self) -> datetime:
        position = await self.last_position()
        if position == 0:
            return EPOCH
        event = await self.log.event_at(position)
        return EPOCH if event is None else event.recorded_at


class MemoryPublicSource:
    """A fixed set of views (tests, previews)."""

    def __init__(
        self,
        states: Sequence[Mapping[str, Any]] = (),
        position: int = 0,
        modified: datetime = EPOCH,
    ) -> None:
        self.states = list(states)
        self.position = position
        self.modified = modified

    async def list_states(self) -> list[Mapping[str, Any]]:
        return list(self.states)

    async def get_state(self, request_id: str) -> Mapping[str, Any] | None:
        for state in self.states:
            if state.get("request_id") == request_id:
                return state
        return None

    async def last_position(self) -> int:
        return self.position

    async def last_modified(self) -> datetime:
        return self.modified
