"""What the runner asks of a projection, and what it gives one for a batch.

A projection keeps read-model tables up to date with the log. The runner
(`projections.runner`) reads the log in batches and, for each batch, hands the events to
every projection whose checkpoint is where the batch starts; each folds them into the
writes of that batch (`apply`), and the runner writes them all with the projections' new
checkpoints in one transaction (`Writes.flush`). While batch n is written, batch n + 1
may already be folded: a projection's writes for a batch are their own object, and
whatever it keeps in memory across batches (caches) must be valid as of the end of the
last batch it folded. When the runner's view of the stored rows may be stale (another
runner moved a checkpoint, a write failed, the worker lock changed hands, a rebuild
began or ended) it calls `reset`, then `start` before the next batch. Work that
several projections need (the fold of request streams) is made once per batch and
kept across batches in `Batch.shared`, dropped with the caches.

The runner knows nothing of event types or streams: adding a projection is a module
with a class like this and its name in `projections.read_models.REGISTERED`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from events.model import RecordedEvent
from events.store.contract import TableWriter
from projections.history import EventRow

__all__ = ["Batch", "EventRow", "LogReader", "Projection", "Writes"]

T = TypeVar("T")


class LogReader(Protocol):
    """The reads of the log a projection may make while folding (`EventStore` has it)."""

    async def read_stream(
        self, stream_id: str, *, to_position: int | None = None
    ) -> list[RecordedEvent]: ...

    async def envelopes(self, positions: Iterable[int]) -> list[tuple[int, str, str]]:
        """`(position, stream_id, event_type)` of those of `positions` in the log."""
        ...


@dataclass(slots=True)
class Batch:
    """The batch being folded: the events after position `start`, up to `end`;
    `time_zone` is the committee's (its calendar days end exemptions); `kept` is what the
    runner's projections share across batches (`shared`)."""

    start: int
    end: int
    log: LogReader
    time_zone: tzinfo = UTC
    kept: dict[type[Any], Any] = field(default_factory=dict, repr=False)
    #: folded by a rebuild into copies no one reads before its swap: a projection may
    #: hold rows back across batches, and write them with `Projection.held` at its end
    rebuilding: bool = False
    _streams: dict[str, list[RecordedEvent]] = field(default_factory=dict, repr=False)

    def shared(self, kind: type[T]) -> T:
        """The runner's one `kind()`, made on first use and kept across its batches until
        the projections are reset (the runner empties `kept` then): work the projections
        of one runner share, such as the fold of request streams
        (`projections.read_models.requests.RequestFold`). Like a projection's caches, it
        must be valid as of the end of the last batch folded."""
        found = self.kept.get(kind)
        if found is None:
            found = self.kept[kind] = kind()
        return cast(T, found)

    async def stream(self, stream_id: str) -> list[RecordedEvent]:
        """The stream's events up to the batch's end, upcast: read once per batch and
        shared by the projections (a retraction has each of them re-fold it)."""
        found = self._streams.get(stream_id)
        if found is None:
            found = self._streams[stream_id] = await self.log.read_stream(
                stream_id, to_position=self.end
            )
        return found


class Writes(Protocol):
    """What one projection writes for one batch."""

    async def flush(self, conn: AsyncConnection, tables: TableWriter) -> None:
        """Write the batch's rows in the runner's open transaction (which also moves
        the checkpoint and commits, or rolls everything back); bulk writes go through
        `tables` (the store's backend: COPY on PostgreSQL)."""
        ...


class Projection(Protocol):
    """One read model kept by the runner."""

    @property
    def name(self) -> str:
        """Its row in `projection_checkpoints`, and its name for `docket rebuild`."""
        ...

    @property
    def tables(self) -> Sequence[Table]:
        """The tables it writes; a rebuild fills empty copies of them (with the same names
        on the connection it hands to `start` and `Writes.flush`) and swaps them in."""
        ...

    def reset(self) -> None:
        """Forget what is kept in memory: the stored rows may not be what it believes."""
        ...

    async def start(self, conn: AsyncConnection) -> None:
        """Load what folding needs from the stored rows (after a `reset`, before the
        next batch), on a read connection."""
        ...

    async def apply(self, batch: Batch, events: Sequence[EventRow]) -> Writes:
        """Fold the batch's events (in position order) into the writes of the batch."""
        ...

    def held(self) -> Writes | None:
        """The rows a rebuild's batches held back (`Batch.rebuilding`), written after its
        last batch and before its swap; None if none."""
        ...
