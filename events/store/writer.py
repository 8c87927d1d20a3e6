"""The backend-neutral half of appending: the group-commit queue, and the pure validation
and hashing of a batch.

Concurrent `append` calls queue up; one writer task takes everything queued (up to
`max_batch_events`) and hands it to the backend as one `Batch`, to be committed in one
transaction. Each call is validated in order against the versions left by the calls before
it (`apply_all`): one call's conflict or bad event fails that call only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import orjson
import structlog

from events.disclosure import erased_marker, erased_values, new_salt, sealed_digest, split
from events.errors import (
    ConcurrencyConflict,
    DuplicateEvents,
    ErasureRefused,
    NumberingExhausted,
    StoreClosed,
)
from events.hashing import event_hashes
from events.model import ExpectedVersion, NewEvent, RecordedEvent, StreamAppend
from events.request_ids import NumberedRequest, take_number
from events.store.contract import Backend, Batch, BatchState, Erasure, Outcome, StoredRow
from events.types import request_stream

log = structlog.get_logger("docket.store")

_EXPECTED_WORDS = ("any", "no_stream", "exists")


@dataclass(slots=True)
class StoreStats:
    """Counters of the writer: transactions, calls and events."""

    batches: int = 0
    calls: int = 0
    events: int = 0
    conflicts: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


@dataclass(slots=True)
class Pending:
    """One queued `append` call."""

    appends: tuple[StreamAppend, ...]
    event_ids: list[uuid.UUID]
    future: asyncio.Future[list[RecordedEvent]]
    #: a new request under the next server id (then `appends` is empty)
    numbered: NumberedRequest | None = None
    #: the positions whose sealed values the call's one event (`ErasureRecorded`) erases
    erasing: tuple[int, ...] = ()


class GroupCommit:
    """The queue and its writer task over one backend."""

    def __init__(self, backend: Backend, max_batch_events: int, stats: StoreStats) -> None:
        self._backend = backend
        self._max_batch_events = max_batch_events
        self._queue: asyncio.Queue[Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.stats = stats

    async def submit(
        self,
        appends: tuple[StreamAppend, ...],
        event_ids: list[uuid.UUID],
        numbered: NumberedRequest | None = None,
        erasing: tuple[int, ...] = (),
    ) -> list[RecordedEvent]:
        """Queue one call (already checked by `check_append`) and wait for its outcome."""
        future: asyncio.Future[list[RecordedEvent]] = asyncio.get_running_loop().create_future()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_loop(), name="docket-event-writer")
        self._queue.put_nowait(Pending(appends, event_ids, future, numbered, erasing))
        return await future

    async def stop(self) -> None:
        """Write what is queued, then stop the writer task."""
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await self._task

    async def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first.event_ids)
            while size < self._max_batch_events and not self._queue.empty():
                pending = self._queue.get_nowait()
                if pending is None:
                    stopping = True
                    break
                batch.append(pending)
                size += len(pending.event_ids)
            await self._commit(batch)

    async def _commit(self, batch: list[Pending]) -> None:
        try:
            written = await self._backend.write(
                Batch(
                    stream_ids=sorted({a.stream_id for p in batch for a in p.appends}),
                    event_ids=[event_id for p in batch for event_id in p.event_ids],
                    predicted=predicted_versions(batch),
                    apply=partial(apply_all, batch),
                    numbered=numbered_years(batch),
                    erasing=sorted({p for pending in batch for p in pending.erasing}),
                )
            )
        except asyncio.CancelledError:
            for pending in batch:
                _fail(pending.future, StoreClosed("the writer was cancelled"))
            raise
        except Exception as error:
            self.stats.failed_batches += 1
            log.warning("docket.append.batch_failed", calls=len(batch), error=repr(error))
            for pending in batch:
                _fail(pending.future, error)
            return
        self.stats.batches += 1
        self.stats.events += written.events
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for pending, outcome in zip(batch, written.outcomes, strict=True):
            if isinstance(outcome, Exception):
                if isinstance(outcome, ConcurrencyConflict):
                    self.stats.conflicts += 1
                _fail(pending.future, outcome)
            else:
                self.stats.calls += 1
                if not pending.future.done():
                    pending.future.set_result(outcome)


def _fail(future: asyncio.Future[list[RecordedEvent]], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


# -- the pure part -------------------------------------------------------------------------


def check_append(stream_append: StreamAppend) -> None:
    """Refuse (`ValueError`) what no state of the log could accept."""
    expected = stream_append.expected
    if isinstance(expected, str):
        if expected not in _EXPECTED_WORDS:
            raise ValueError(f"unknown expected version {expected!r}")
    elif isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise ValueError(f"expected version must be a word or an integer ≥ 0: {expected!r}")
    for new in stream_append.events:
        if new.stream_id != stream_append.stream_id:
            raise ValueError(
                f"event {new.event_id} is for stream {new.stream_id!r}, "
                f"appended to {stream_append.stream_id!r}"
            )
        if new.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")


def predicted_versions(batch: list[Pending]) -> dict[str, int] | None:
    """Each stream's version as the batch's calls expect it; None if one does not say."""
    predicted: dict[str, int] = {}
    for pending in batch:
        if pending.numbered is not None or pending.erasing:
            return None  # its stream is known only under the lock; erasures read the log
        for stream_append in pending.appends:
            expected = stream_append.expected
            if expected == "no_stream":
                predicted.setdefault(stream_append.stream_id, 0)
            elif isinstance(expected, int):
                predicted.setdefault(stream_append.stream_id, expected)
            else:
                return None
    return predicted


def numbered_years(batch: list[Pending]) -> dict[int, int]:
    """How many calls of the batch want a server-assigned request id, per year."""
    years: dict[int, int] = {}
    for pending in batch:
        if pending.numbered is not None:
            years[pending.numbered.year] = years.get(pending.numbered.year, 0) + 1
    return years


def apply_all(batch: list[Pending], state: BatchState) -> list[Outcome]:
    """Each call's recorded events, or why it was refused, in the batch's order."""
    recorded_at = datetime.now(UTC)
    outcomes: list[Outcome] = []
    for pending in batch:
        try:
            outcomes.append(apply(pending, state, recorded_at))
        except Exception as refusal:
            outcomes.append(refusal)
    return outcomes


def _matches(expected: ExpectedVersion, current: int) -> bool:
    if expected == "any":
        return True
    if expected == "no_stream":
        return current == 0
    if expected == "exists":
        return current >= 1
    return current == expected


def apply(pending: Pending, state: BatchState, recorded_at: datetime) -> list[RecordedEvent]:
    """Validate one call against `state` and assign its events; `state` changes on success."""
    if pending.event_ids:
        known = [state.existing.get(i) or state.written.get(i) for i in pending.event_ids]
        present = [event for event in known if event is not None]
        if len(present) == len(known):
            return present
        if present:
            raise DuplicateEvents([event.event_id for event in present])
    appends, sequence = pending.appends, None
    if pending.numbered is not None:
        appends, sequence = _numbered(pending, pending.numbered, state)
    if pending.erasing:
        _check_erasable(pending.erasing, state)
    versions: dict[str, int] = {}
    position, chain = state.position, state.chain
    recorded: list[StoredRow] = []
    for stream_append in appends:
        stream_id = stream_append.stream_id
        version = versions.get(stream_id, state.versions.get(stream_id, 0))
        if not _matches(stream_append.expected, version):
            raise ConcurrencyConflict(stream_id, stream_append.expected, version)
        for new in stream_append.events:
            version += 1
            position += 1
            row, chain = record(new, position, version, recorded_at, chain)
            recorded.append(row)
        versions[stream_id] = version
    state.position, state.chain = position, chain
    if sequence is not None and pending.numbered is not None:
        state.sequences[pending.numbered.year] = sequence
    state.versions.update(versions)
    for row in recorded:
        state.written[row[0].event_id] = row[0]
    state.rows.extend(recorded)
    if pending.erasing:
        # the call's one event is the ErasureRecorded: its position is the marker's `by`
        by = recorded[-1][0].position
        state.erasures.append((by, {p: state.erasable.pop(p) for p in pending.erasing}))
        state.erased.update(pending.erasing)
    return [row[0] for row in recorded]


def erasure_rows(erasures: list[Erasure]) -> list[tuple[int, str, str, int]]:
    """For each erased position: `(position, sealed data text, metadata text, by)`, the
    values replaced by the marker of the `ErasureRecorded` at `by`."""
    rows: list[tuple[int, str, str, int]] = []
    for by, positions in erasures:
        metadata = orjson.dumps(erased_marker(by)).decode()
        for position, (event_type, schema_version, sealed) in positions.items():
            data = orjson.dumps(erased_values(event_type, schema_version, sealed, by)).decode()
            rows.append((position, data, metadata, by))
    return rows


def _check_erasable(positions: tuple[int, ...], state: BatchState) -> None:
    """SPEC §3 `ErasureRecorded`: each position exists and is not already erased (also by
    an erasure earlier in the batch)."""
    missing = [p for p in positions if p not in state.erasable and p not in state.erased]
    if missing:
        raise ErasureRefused("position_exists", missing)
    erased = [p for p in positions if p in state.erased]
    if erased:
        raise ErasureRefused("not_already_erased", erased)


def _numbered(
    pending: Pending, numbered: NumberedRequest, state: BatchState
) -> tuple[tuple[StreamAppend, ...], int]:
    """The call's append under the year's next free id, and the year's number after it.
    The number moves in `state` only when the call is written (`apply`), but for a run
    of taken streams that exhausted the lookup (`NumberingExhausted`): that moves it."""
    year = numbered.year
    last = state.sequences.get(year, 0)
    limit = state.sequence_limits.get(year, last)
    request_id, sequence = take_number(year, last, limit, lambda s: s in state.versions)
    if request_id is None:
        state.sequences[year] = sequence
        raise NumberingExhausted(f"every id looked up after {year}'s number {last} is taken")
    stream_id = request_stream(request_id)
    events = list(numbered.build(request_id))
    if [e.event_id for e in events] != pending.event_ids:
        raise ValueError("a numbered request's events must have its event ids, in order")
    stream_append = StreamAppend(stream_id, "no_stream", events)
    check_append(stream_append)
    return (stream_append,), sequence


def record(
    new: NewEvent, position: int, version: int, recorded_at: datetime, prev: bytes
) -> tuple[StoredRow, bytes]:
    """The recorded event of `new` at `position`/`version` with a fresh salt, its stored
    JSON texts (clear data; sealed data; metadata), and the chain hash after it
    (canonical form v2)."""
    salt = new_salt()
    # Sealing first: RFC 8785 refuses what JSON cannot carry exactly (NaN, huge integers).
    clear, sealed = split(new.event_type, new.schema_version, new.data)
    digest = sealed_digest(salt, sealed, new.metadata)
    event = RecordedEvent(
        position=position,
        event_id=new.event_id,
        stream_id=new.stream_id,
        stream_version=version,
        event_type=new.event_type,
        schema_version=new.schema_version,
        data=new.data,
        metadata=new.metadata,
        occurred_at=new.occurred_at.astimezone(UTC),
        recorded_at=recorded_at,
        prev_hash=prev.hex(),
        hash="",
        sealed=digest,
    )
    # The leaf from the digest just made (no salt given: nothing sealed hashed twice).
    _, chain = event_hashes(event.hashed_fields(), prev)
    # What a reader will get back: detached from the caller's objects, tuples as lists.
    data, metadata = orjson.dumps(new.data).decode(), orjson.dumps(new.metadata).decode()
    stored = dataclasses.replace(
        event,
        data=orjson.loads(data),
        metadata=orjson.loads(metadata),
        hash=chain.hex(),
        salt=salt,
    )
    clear_text, sealed_text = orjson.dumps(clear).decode(), orjson.dumps(sealed).decode()
    return (stored, clear_text, sealed_text, metadata), chain
