"""Export and import of the whole log as JSON Lines, each line an event in wire form.

An import is checked in full before anything is written: positions, links and every hash
are recomputed from the lines, and a single bad line refuses the whole file, naming its
position. Only then are the rows written, in one transaction, exactly as they were.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from sqlalchemy import insert

from events.model import RecordedEvent, parse_utc
from events.schema import events as events_table
from events.store import EventStore, _row
from events.verify_chain import ChainReport, verify_chain

_WRITER = {"docket_begin": "IMMEDIATE"}


class ImportRefused(Exception):
    """The file cannot be imported; nothing was written."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        at = f" at position {position}" if position is not None else ""
        super().__init__(f"import refused{at}: {reason}")
        self.position = position


def to_line(event: RecordedEvent) -> bytes:
    return orjson.dumps(event.wire()) + b"\n"


async def export_log(
    store: EventStore, out: BinaryIO, progress: Callable[[int], None] | None = None
) -> int:
    """Write every event to `out`; return how many."""
    count = 0
    async for event in store.iter_all(after=0, batch=10_000):
        out.write(to_line(event))
        count += 1
        if progress is not None and count % 10_000 == 0:
            progress(count)
    return count


def parse_line(line: bytes | str, line_no: int) -> RecordedEvent:
    """An event from its wire form; `ImportRefused` naming the line when malformed."""
    try:
        body: dict[str, Any] = orjson.loads(line)
        return RecordedEvent(
            position=int(body["position"]),
            event_id=uuid.UUID(body["event_id"]),
            stream_id=str(body["stream_id"]),
            stream_version=int(body["stream_version"]),
            event_type=str(body["event_type"]),
            schema_version=int(body["schema_version"]),
            data=body["data"],
            metadata=body["metadata"],
            occurred_at=parse_utc(body["occurred_at"]),
            recorded_at=parse_utc(body["recorded_at"]),
            prev_hash=str(body["prev_hash"]),
            hash=str(body["hash"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ImportRefused(f"line {line_no} is not an event in wire form ({error})") from None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            if line.strip():
                yield line_no, line


async def _parsed(path: Path) -> AsyncIterator[RecordedEvent]:
    for line_no, line in _lines(path):
        yield parse_line(line, line_no)


async def check_file(path: Path, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Positions, links and hashes of every line of `path`, without a database."""
    return await verify_chain(_parsed(path), progress=progress, progress_every=10_000)


async def import_log(
    store: EventStore,
    path: Path,
    progress: Callable[[int], None] | None = None,
    batch: int = 5_000,
) -> int:
    """Import `path` into an empty log, checked first; return the number of events."""
    head, _ = await store.head()
    if head != 0:
        raise ImportRefused(f"the log already holds {head} events; import into an empty one")
    report = await check_file(path, progress)
    if not report.ok:
        raise ImportRefused(report.reason or "the chain is broken", report.bad_position)
    written = 0
    async with store.engine.execution_options(**_WRITER).begin() as conn:
        rows: list[dict[str, Any]] = []
        async for event in _parsed(path):
            rows.append(_row(event))
            if len(rows) >= batch:
                await conn.execute(insert(events_table), rows)
                written += len(rows)
                rows = []
        if rows:
            await conn.execute(insert(events_table), rows)
            written += len(rows)
    return written
