"""Export and import of the whole log as JSON Lines, each line an event in wire form.

An import is checked in full before anything is committed: positions, links and every
hash are recomputed from the lines as they are streamed into one transaction (COPY on
PostgreSQL), and a single bad line refuses the whole file, naming its position, and rolls
the transaction back. The rows are written exactly as they were.

Lines are events whole in canonical form v2 (SPEC §4: with their `salt`, and their kept
`sealed` digest; an erased event has a null salt, its erased values' markers, and the
digest its leaf commits to). An export made in
the old form (v1, no `salt`) is refused with a message saying so, never hashed otherwise.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from events.disclosure import canonical_v2, sealed_digest, split
from events.errors import ImportRefused, LogNotEmpty
from events.gcpause import gc_paused
from events.model import ZERO_HASH, RecordedEvent, parse_utc
from events.store import EventStore
from events.verify_chain import ChainReport, verify_chain

__all__ = [
    "OLD_FORM",
    "ImportRefused",
    "check_file",
    "export_log",
    "import_log",
    "parse_line",
    "to_line",
]

#: Why a line without `salt` is refused: a v1 hash cannot be recomputed in form v2.
OLD_FORM = (
    "line {line} has no salt: this export is in the old canonical form v1, whose hashes "
    "this Docket (canonical form v2, SPEC §4) cannot check; verify it with the Docket "
    "version that wrote it, and start this log afresh rather than importing it"
)


def _old_form(body: Any, line_no: int) -> ImportRefused | None:
    if type(body) is dict and "hash" in body and "salt" not in body:
        return ImportRefused(OLD_FORM.format(line=line_no))
    return None


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
    except orjson.JSONDecodeError as error:
        raise ImportRefused(f"line {line_no} is not an event in wire form ({error})") from None
    old = _old_form(body, line_no)
    if old is not None:
        raise old
    try:
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
            salt=_optional_text(body["salt"]),
            sealed=_optional_text(body.get("sealed")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ImportRefused(f"line {line_no} is not an event in wire form ({error})") from None


def _optional_text(value: Any) -> str:
    """A salt or kept digest of a line: text, or null (an erased event's salt; a line
    of an export made before erasure existed has no `sealed`)."""
    if value is None:
        return ""
    if type(value) is not str:
        raise TypeError(f"{value!r} is not text")
    return value


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


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: `utc_text` output with a four-digit year: parsed, it formats back to the same text.
_CANONICAL_TIME = re.compile(
    r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
)

#: A row to copy in (`events.store.rows.ImportRow`); times as datetimes, or canonical text
#: where the store's raw rows carry them so; JSON as text as the store writes it.
_Record = tuple[Any, ...]


#: SHA-256 state after the leaf prefix byte 0x00 (RFC 9162): copied for each leaf.
_LEAF_PREFIX = hashlib.sha256(b"\x00")


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _erased_by(metadata: Any) -> int:
    """The `ErasureRecorded` position of an erased event, from its metadata's marker."""
    if (
        type(metadata) is dict
        and metadata.keys() == {"erased", "by"}
        and metadata["erased"] is True
        and type(metadata["by"]) is int
    ):
        return int(metadata["by"])
    raise ValueError("an event without a salt must carry the erasure's marker as metadata")


class _Checker:
    """The chain check of `verify_chain`, one wire line at a time, producing the rows."""

    def __init__(self, times_as_text: bool) -> None:
        self.position = 0
        self.prev_hex = ZERO_HASH
        self.chain = bytes(32)
        self.times_as_text = times_as_text

    def refuse(self, at: int, reason: str) -> ImportRefused:
        return ImportRefused(reason, at)

    def row(self, line: bytes, line_no: int) -> _Record:
        """The row of `line`, the next event; `ImportRefused` if it does not verify."""
        fields, prev_hash, stored, occurred, recorded = self._fields(line, line_no)
        at = fields["position"]
        expected = self.position + 1
        if at != expected:
            if at > expected:
                raise self.refuse(expected, f"position {expected} is missing (next is {at})")
            raise self.refuse(at, f"position {at} follows {self.position}")
        if prev_hash != self.prev_hex:
            raise self.refuse(expected, "prev_hash does not link to the previous event's hash")
        try:
            form = canonical_v2(fields)
            clear, sealed = split(fields["event_type"], fields["schema_version"], fields["data"])
            digest = fields["sealed"] or sealed_digest(fields["salt"], sealed, fields["metadata"])
            erased_by = None if fields["salt"] else _erased_by(fields["metadata"])
        except (TypeError, ValueError) as error:
            raise self.refuse(expected, f"stored fields have no canonical form: {error}") from None
        hasher = _LEAF_PREFIX.copy()
        hasher.update(form)
        leaf = hasher.digest()
        computed = hashlib.sha256(self.chain + leaf).digest()
        computed_hex = computed.hex()
        if stored != computed_hex:
            raise self.refuse(expected, "hash does not match the event's stored fields")
        self.position, self.chain, self.prev_hex = expected, computed, computed_hex
        if self.times_as_text:
            occurred, recorded = fields["occurred_at"], fields["recorded_at"]
        return (
            at,
            fields["event_id"],
            fields["stream_id"],
            fields["stream_version"],
            fields["event_type"],
            fields["schema_version"],
            _json_text(clear),
            occurred,
            recorded,
            prev_hash,
            stored,
            digest,
            _json_text(sealed),
            _json_text(fields["metadata"]),
            fields["salt"] or None,
            erased_by,
        )

    def _fields(
        self, line: bytes, line_no: int
    ) -> tuple[dict[str, Any], str, str, datetime, datetime]:
        """The hashed fields of a wire line, its links and times, as `parse_line` reads it.

        Lines already in the form `export` writes are read directly; anything else goes
        through `parse_line` (its conversions and its refusals).
        """
        try:
            body = orjson.loads(line)
            if type(body) is dict:
                position = body["position"]
                event_id = body["event_id"]
                stream_id = body["stream_id"]
                stream_version = body["stream_version"]
                event_type = body["event_type"]
                schema_version = body["schema_version"]
                occurred_text = body["occurred_at"]
                recorded_text = body["recorded_at"]
                prev_hash = body["prev_hash"]
                stored = body["hash"]
                salt = body["salt"]
                kept = body.get("sealed", "")
                if (
                    type(position) is int
                    and type(stream_version) is int
                    and type(schema_version) is int
                    and type(event_id) is str
                    and type(stream_id) is str
                    and type(event_type) is str
                    and type(prev_hash) is str
                    and type(stored) is str
                    and type(salt) is str
                    and type(kept) is str
                    and type(occurred_text) is str
                    and type(recorded_text) is str
                    and _CANONICAL_UUID.fullmatch(event_id)
                    and _CANONICAL_TIME.fullmatch(occurred_text)
                    and _CANONICAL_TIME.fullmatch(recorded_text)
                ):
                    # fromisoformat reads "Z" as UTC; an impossible date raises.
                    occurred = datetime.fromisoformat(occurred_text)
                    recorded = datetime.fromisoformat(recorded_text)
                    fields = {
                        "position": position,
                        "event_id": event_id,
                        "stream_id": stream_id,
                        "stream_version": stream_version,
                        "event_type": event_type,
                        "schema_version": schema_version,
                        "data": body["data"],
                        "metadata": body["metadata"],
                        "occurred_at": occurred_text,
                        "recorded_at": recorded_text,
                        "salt": salt,
                        "sealed": kept,
                    }
                    return fields, prev_hash, stored, occurred, recorded
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pass
        event = parse_line(line, line_no)
        hashed: Any = event.hashed_fields()
        return hashed, event.prev_hash, event.hash, event.occurred_at, event.recorded_at


async def import_log(
    store: EventStore,
    path: Path,
    progress: Callable[[int], None] | None = None,
    batch: int = 10_000,
) -> int:
    """Import `path` into an empty log; return the number of events.

    One pass: each line is checked (position, link, hash) as it is read, and the rows are
    written in one transaction (`store.copy_in`: COPY on PostgreSQL, each chunk while the
    next is checked) that is rolled back if any line is refused, so nothing is written
    unless the whole file verifies.
    """
    head, _ = await store.head()
    if head != 0:
        raise LogNotEmpty(head)
    checker = _Checker(times_as_text=store.raw_times_as_text)
    with gc_paused():
        return await store.copy_in(_chunks(path, checker, batch, progress))


def _chunks(
    path: Path, checker: _Checker, batch: int, progress: Callable[[int], None] | None
) -> Iterator[list[_Record]]:
    rows: list[_Record] = []
    count = 0
    for line_no, line in _lines(path):
        rows.append(checker.row(line, line_no))
        count += 1
        if progress is not None and count % 10_000 == 0:
            progress(count)
        if len(rows) >= batch:
            yield rows
            rows = []
    if rows:
        yield rows
    if progress is not None:
        progress(count)
