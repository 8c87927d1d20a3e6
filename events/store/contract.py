"""What a backend of the event store provides (`Backend`), and the values it exchanges
with the backend-neutral writer (`BatchState`, `Batch`, `Written`).

A backend holds the dialect and nothing else: how to read the batch's state under the
log's single-writer lock and insert what the writer decided, how to read events, pages and
raw rows, how to copy an import in, the lock and bulk insert the Merkle tree's writer
uses, and what the projections ask beyond the log (bulk row writes, a session lock) and
the API (which driver errors mean "unavailable"). The group-commit queue, validation and
hashing are shared (`events.store.writer`); `EventStore` (`events.store.store`) is the
only way in for everything else.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.model import RecordedEvent
from events.store.locks import SessionLock
from events.store.rows import ChainRow, FoldRow, RawRow

#: What one call of a batch came to: its recorded events, or why it was refused.
Outcome = list[RecordedEvent] | Exception

#: An event a batch writes, with its JSON texts as stored: the clear fields of `data` (in
#: `events`), the sealed fields of `data` and the `metadata` (in `sealed_values`). The
#: event carries its salt and kept `sealed` digest.
StoredRow = tuple[RecordedEvent, str, str, str]

#: What an erasure needs of an event: its type, schema version and sealed fields.
Erasable = tuple[str, int, dict[str, Any]]
#: An erasure a batch writes: the position of its `ErasureRecorded` event, and each
#: erased position with what it needs of it (SPEC §4 "Erasure").
Erasure = tuple[int, dict[int, Erasable]]


@dataclass(slots=True)
class BatchState:
    """The log as a batch is decided on: the head, the versions of the batch's streams
    (absent: no stream), and which of its event ids are already recorded. The writer's
    `apply` advances it and collects the rows to insert."""

    position: int
    chain: bytes
    versions: dict[str, int]
    existing: dict[uuid.UUID, RecordedEvent]
    written: dict[uuid.UUID, RecordedEvent] = field(default_factory=dict)
    #: What the batch writes, in position order (`StoredRow`).
    rows: list[StoredRow] = field(default_factory=list)
    #: Server-assigned request ids (`events.request_ids`): each year's last number, and
    #: the highest one whose stream's version the backend read (in `versions`). `apply`
    #: moves `sequences`; the backend stores what moved in the same transaction.
    sequences: dict[int, int] = field(default_factory=dict)
    sequence_limits: dict[int, int] = field(default_factory=dict)
    #: Of the positions the batch's erasures name (`Batch.erasing`): those in the log and
    #: not erased (`Erasable`), and those already erased. A position in neither is not
    #: in the log. `apply` moves them, and adds `erasures`: what the backend destroys in
    #: the transaction.
    erasable: dict[int, Erasable] = field(default_factory=dict)
    erased: set[int] = field(default_factory=set)
    erasures: list[Erasure] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Batch:
    """What the writer hands a backend to commit."""

    #: Every stream the batch's calls name, sorted, and every event id, in call order.
    stream_ids: list[str]
    event_ids: list[uuid.UUID]
    #: Each stream's version as the calls expect it, if every call names one: a backend
    #: may decide the batch on this and its last head, and check both while it inserts.
    predicted: dict[str, int] | None
    #: The pure step: validates each call against the state, hashes, fills `state.rows`.
    #: It may be called more than once (on a prediction that failed); the last counts.
    apply: Callable[[BatchState], list[Outcome]]
    #: How many calls of each year want a server-assigned request id
    #: (`EventStore.append_numbered`); such a batch has no prediction.
    numbered: dict[int, int] = field(default_factory=dict)
    #: Every position the batch's erasures name (`EventStore.erase`), sorted; such a
    #: batch has no prediction.
    erasing: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Written:
    """A committed batch: each call's outcome, and how many events were inserted."""

    outcomes: list[Outcome]
    events: int


class TableWriter(Protocol):
    """Bulk writes of projection rows in an open transaction of the backend's engine, in
    the fastest form the database has (PostgreSQL: COPY and arrays on the transaction's
    own driver connection; SQLite: executemany). Records are tuples in the table's column
    order, JSON columns already as JSON text; times as aware datetimes."""

    async def copy_rows(
        self, conn: AsyncConnection, table: Table, records: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert `records` into `table`."""
        ...

    async def replace_rows(
        self,
        conn: AsyncConnection,
        table: Table,
        key: str,
        changed: Sequence[tuple[Any, ...]],
        new: Sequence[tuple[Any, ...]] = (),
    ) -> None:
        """Replace each row whose `key` column is that of a `changed` record by it (the row
        exists), and insert the `new` records."""
        ...

    def rebuilding(self, tables: Sequence[Table]) -> AbstractAsyncContextManager[Rebuilding]:
        """`tables` rebuilt aside: filled on the `Rebuilding`'s connection, where they are
        empty copies with their primary keys only, and swapped in with their indexes in
        one transaction (`Rebuilding.swap`). Readers keep seeing the tables as they were
        until then; leaving the block without a swap (an error, a crash) leaves them so."""
        ...


class Rebuilding(Protocol):
    """Tables being rebuilt (`TableWriter.rebuilding`): on `conn`, their names are empty
    copies without secondary indexes, hidden from every other connection."""

    @property
    def conn(self) -> AsyncConnection:
        """Where the copies are filled (bulk writes go through the `TableWriter` as usual)."""
        ...

    async def swap(self, finish: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        """Give the copies their indexes and put them in place of the tables, with
        `finish(conn)` (the checkpoints) in the same transaction, and commit."""
        ...


@dataclass(frozen=True, slots=True)
class Partition:
    """The streams whose ids start with `prefix` and hash (PostgreSQL's `hashtext`, a
    stable function of the id) to `index` modulo `count`: one worker's share of a
    rebuild in worker processes."""

    prefix: str
    index: int
    count: int


@runtime_checkable
class PartitionedRebuilds(Protocol):
    """What a rebuild in worker processes asks of a backend beyond `TableWriter`
    (PostgreSQL only: `projections.runner.partitioned`)."""

    def partition_pages(
        self, partition: Partition, after: int, until: int, batch: int
    ) -> AsyncGenerator[list[FoldRow], None]:
        """Pages of up to `batch` rows of the partition's streams as a fold reads them
        (`FoldRow`), after `after` and up to `until`, in position order."""
        ...

    def staging(self, tables: Sequence[Table]) -> AbstractAsyncContextManager[Staging]:
        """Committed, empty copies of `tables` (primary keys only) in a schema of their
        own, for other connections (other processes) to fill (`Staging.fill`) and this
        one to swap in (`Staging.swap`); left without a swap, the schema is dropped, and
        one left by a process that died is dropped when the next one is made."""
        ...

    def filling(self, conn: AsyncConnection, home: str) -> AbstractAsyncContextManager[None]:
        """Within it, the tables' plain names mean the staged copies in `conn`'s
        transaction (a connection of any process: the copies are committed), and `conn`
        writes rows as a rebuild does."""
        ...


class Staging(Protocol):
    """Copies being filled by other connections (`PartitionedRebuilds.staging`,
    `PartitionedRebuilds.filling`)."""

    @property
    def home(self) -> str:
        """The schema of the tables (what a filling connection needs besides the URL)."""
        ...

    async def swap(self, finish: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        """As `Rebuilding.swap`, in one transaction of its own."""
        ...


class ChangeWaiter(Protocol):
    """Wakes a log follower when the log may have grown (`events.follower`): PostgreSQL
    LISTEN/NOTIFY, SQLite polling with back-off. A spurious wake-up costs one empty read."""

    async def wait_for_change(self, seconds: float) -> None:
        """Return when the log may have grown, or after `seconds`."""
        ...

    def nudge(self) -> None:
        """This process appended: wake the waiter now."""
        ...

    async def close(self) -> None: ...


class Backend(TableWriter, Protocol):
    """One database dialect under the event store. Reads return the stored form (no
    upcasting); positions are gap-free and assigned in commit order across processes."""

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine of the database (projections, tokens and the tree use it)."""
        ...

    @property
    def raw_times_as_text(self) -> bool:
        """Whether `RawRow` times are canonical UTC text (else aware datetimes)."""
        ...

    @property
    def hashed_form(self) -> Callable[[ChainRow], bytes]:
        """The canonical form `c(e)` of a `ChainRow` (a plain function: the walk's hot path)."""
        ...

    async def close(self) -> None: ...

    # -- writing ---------------------------------------------------------------------------

    async def write(self, batch: Batch) -> Written:
        """Under the log's single-writer lock: the `BatchState` of `batch`, `batch.apply` on
        it, insert `state.rows`, commit. Raises (writing nothing) if the database does.

        With `batch.numbered`: read each of those years' last number from
        `request_sequences` and the versions of its `request_ids.candidate_streams` into
        the state, and store the years whose number `apply` moved, in the transaction.

        With `batch.erasing`: read which of those positions are erasable (with their
        type, version and sealed fields) or erased into the state, and for each of `state.erasures`
        replace the sealed values of its positions by markers and drop their salts
        (`sealed_values`), in the transaction."""
        ...

    async def copy_in(self, chunks: Iterable[list[RawRow]]) -> int:
        """Insert every chunk's rows in one transaction under the appenders' lock, into an
        empty log (else `LogNotEmpty`); an error from `chunks` rolls it all back."""
        ...

    # -- reading ---------------------------------------------------------------------------

    async def head(self) -> tuple[int, str]: ...

    async def stream_version(self, stream_id: str) -> int: ...

    async def read_stream(
        self,
        stream_id: str,
        from_version: int,
        to_position: int | None,
        occurred_until: datetime | None,
    ) -> list[RecordedEvent]: ...

    async def read_streams(
        self, from_versions: Mapping[str, int]
    ) -> dict[str, list[RecordedEvent]]: ...

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]: ...

    async def by_event_ids(self, event_ids: list[uuid.UUID]) -> list[RecordedEvent]: ...

    async def streams_with_prefix(self, prefix: str) -> list[str]:
        """Every stream whose id starts with `prefix` (SQL `LIKE` semantics), once each."""
        ...

    async def streams_with_event_type(self, event_type: str, after: int) -> list[str]:
        """Every stream with an event of `event_type` after position `after`, once each."""
        ...

    def raw_pages(self, after: int, batch: int) -> AsyncGenerator[list[RawRow], None]:
        """Pages of up to `batch` raw rows after `after`, in position order."""
        ...

    def chain_pages(self, after: int, batch: int) -> AsyncGenerator[list[ChainRow], None]:
        """Pages of up to `batch` chain rows after `after`, in position order."""
        ...

    async def chain_page(self, after: int, limit: int) -> list[ChainRow]: ...

    # -- the Merkle tree's writer ----------------------------------------------------------

    def tree_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction holding the lock that serialises writers of the tree."""
        ...

    async def insert_nodes(self, conn: AsyncConnection, nodes: list[tuple[int, int, str]]) -> None:
        """Insert `(level, idx, hash hex)` rows into `merkle_nodes` in `conn`'s transaction."""
        ...

    # -- beyond the log: what the projection runner and the API ask of the database --------

    def session_lock(self, key: int) -> SessionLock:
        """The lock that lets one worker per database run (`NoLock` where there is none)."""
        ...

    def change_waiter(self) -> ChangeWaiter:
        """A new waiter for the follower of this process (it holds its own connection on
        PostgreSQL: close it)."""
        ...

    def is_unavailable(self, error: BaseException) -> bool:
        """Whether `error`, of this backend's driver, means "the database is unreachable
        or busy, retry" rather than "what was sent is wrong" (a bug)."""
        ...
