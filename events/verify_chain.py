"""Hash-chain verification over the log (SPEC §4), usable on a store or any event stream.

`verify_chain` walks events in position order and stops at the first one that breaks the
log: a gap in positions, a `prev_hash` that does not link to the previous event, or a stored
hash that is not the hash of the stored fields (a row changed after it was written).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from events.bulk import connect_raw, is_postgres, iter_raw_pages, pg_pages
from events.canonical import _OPTIONS as CANONICAL_OPTIONS
from events.canonical import canonical
from events.gcpause import gc_paused
from events.hashing import event_hashes
from events.model import ZERO_HASH, RecordedEvent, parse_utc, utc_text
from events.store import EventStore

#: Called with (position, leaf hash) for every event that verified, e.g. to build a tree.
LeafSink = Callable[[int, bytes], None]
#: Called with the number of events checked so far, every `progress_every` events.
ProgressSink = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a chain walk. `bad_position` is None when the chain verified."""

    checked: int
    head_position: int
    head_hash: str
    bad_position: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_position is None


async def verify_chain(
    events: AsyncIterable[RecordedEvent],
    *,
    after: int = 0,
    prev_hash: str = ZERO_HASH,
    on_leaf: LeafSink | None = None,
    progress: ProgressSink | None = None,
    progress_every: int = 5000,
) -> ChainReport:
    """Check `events` (positions `after + 1 …`, linked from `prev_hash`) in order."""
    position, chain = after, bytes.fromhex(prev_hash)
    checked = 0

    def broken(at: int, reason: str) -> ChainReport:
        return ChainReport(checked, position, chain.hex(), at, reason)

    async for event in events:
        expected = position + 1
        if event.position != expected:
            if event.position > expected:
                return broken(
                    expected, f"position {expected} is missing (next is {event.position})"
                )
            return broken(event.position, f"position {event.position} follows {position}")
        if event.prev_hash != chain.hex():
            return broken(expected, "prev_hash does not link to the previous event's hash")
        try:
            leaf, computed = event_hashes(event.hashed_fields(), chain)
        except (TypeError, ValueError) as error:
            return broken(expected, f"stored fields have no canonical form: {error}")
        if event.hash != computed.hex():
            return broken(expected, "hash does not match the event's stored fields")
        if on_leaf is not None:
            on_leaf(expected, leaf)
        position, chain = expected, computed
        checked += 1
        if progress is not None and checked % progress_every == 0:
            progress(checked)
    if progress is not None:
        progress(checked)
    return ChainReport(checked, position, chain.hex())


#: The stored rows in the column order of `bulk.RawRow`, with the times as the canonical
#: `utc_text` form made by PostgreSQL (`to_char` in UTC; four-digit years) and `data`
#: and `metadata` as JSON text: the hashed fields without `datetime`s or `RecordedEvent`s.
_UTC_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
_PG_HASHED = (
    "SELECT position, event_id, stream_id, stream_version, event_type, schema_version,"
    f" data::text, metadata::text, {_UTC_TEXT.format('occurred_at')},"
    f" {_UTC_TEXT.format('recorded_at')}, prev_hash, hash,"
    # May data or metadata hold a float, or an integer orjson reads as one? Any number
    # token with a fraction or exponent, or of 19+ digits, matches (it follows : , or [);
    # strings that look alike only send the row down the full canonical path.
    " ('[' || data::text || ',' || metadata::text)"
    " ~ '[:,\\[][[:space:]]*-?[0-9]+([.eE]|[0-9]{18})'"
    " FROM events WHERE position > $1 ORDER BY position LIMIT $2"
)

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _event_id(text: str) -> str:
    """`str(uuid.UUID(text))`, without the parse when `text` is already that."""
    if _CANONICAL_UUID.fullmatch(text):
        return text
    return str(uuid.UUID(text))


def _pg_canonical(row: Any) -> bytes:
    """`canonical(_pg_fields(row))`, skipping the walk when it could find nothing: no
    floats (the last column is False), and data and metadata ASCII text with no \\u
    escape, so no key needs UTF-16 ordering; orjson made every value, so all types are
    exact. Then `canonical` would return exactly this dump (on any error, its own path)."""
    fields = _pg_fields(row)
    data, metadata = row[6], row[7]
    if (
        not row[12]
        and data.isascii()
        and metadata.isascii()
        and "\\u" not in data
        and "\\u" not in metadata
    ):
        try:
            return orjson.dumps(fields, option=CANONICAL_OPTIONS)
        except orjson.JSONEncodeError:
            pass
    return canonical(fields)


def _pg_fields(row: Any) -> dict[str, Any]:
    """The hashed fields of a `_PG_HASHED` row (times already canonical text)."""
    loads = orjson.loads
    return {
        "position": row[0],
        "event_id": _event_id(row[1]),
        "stream_id": row[2],
        "stream_version": row[3],
        "event_type": row[4],
        "schema_version": row[5],
        "data": loads(row[6]),
        "metadata": loads(row[7]),
        "occurred_at": row[8],
        "recorded_at": row[9],
    }


def _sqlite_fields(row: Any) -> dict[str, Any]:
    """The hashed fields of a `bulk.RawRow` from SQLite (times stored as text)."""
    return {
        "position": row[0],
        "event_id": _event_id(row[1]),
        "stream_id": row[2],
        "stream_version": row[3],
        "event_type": row[4],
        "schema_version": row[5],
        "data": orjson.loads(row[6]),
        "metadata": orjson.loads(row[7]),
        "occurred_at": utc_text(parse_utc(row[8])),
        "recorded_at": utc_text(parse_utc(row[9])),
    }


async def leaf_hashes(store: EventStore, after: int, limit: int) -> list[bytes]:
    """Leaf hashes `SHA-256(0x00 || c(e))` of up to `limit` events after position `after`,
    in position order, computed as the chain walk does (no links or hashes checked)."""
    if is_postgres(store):
        conn = await connect_raw(store)
        try:
            page = await conn.fetch(_PG_HASHED, after, limit)
        finally:
            await conn.close()
        forms = (_pg_canonical(row) for row in page)
    else:
        page = []
        async with contextlib.aclosing(iter_raw_pages(store, after, limit)) as pages:
            async for first in pages:
                page = first
                break
        forms = (canonical(_sqlite_fields(row)) for row in page)
    leaves: list[bytes] = []
    leaf_prefix = hashlib.sha256(b"\x00")
    with gc_paused():
        for form in forms:
            hasher = leaf_prefix.copy()
            hasher.update(form)
            leaves.append(hasher.digest())
    return leaves


async def verify_store_chain(
    store: EventStore,
    *,
    batch: int = 10_000,
    on_leaf: LeafSink | None = None,
    progress: ProgressSink | None = None,
) -> ChainReport:
    """Verify the whole log of `store`, read in pages of `batch` events.

    The same checks as `verify_chain` over `store.iter_all()`, without building
    `RecordedEvent`s: on PostgreSQL the rows come with their times as canonical text (see
    `_PG_HASHED`) through a raw connection, the next page read while this one is hashed.
    """
    postgres = is_postgres(store)
    pages = pg_pages(store, _PG_HASHED, 0, batch) if postgres else iter_raw_pages(store, 0, batch)
    position, prev_hex = 0, ZERO_HASH
    chain = bytes.fromhex(prev_hex)
    checked = 0
    sha256 = hashlib.sha256
    leaf_prefix = sha256(b"\x00")  # RFC 9162's leaf prefix, copied for each leaf

    def broken(at: int, reason: str) -> ChainReport:
        return ChainReport(checked, position, prev_hex, at, reason)

    with gc_paused():
        async with contextlib.aclosing(pages):
            async for page in pages:
                for row in page:
                    expected = position + 1
                    at = row[0]
                    if at != expected:
                        if at > expected:
                            return broken(
                                expected, f"position {expected} is missing (next is {at})"
                            )
                        return broken(at, f"position {at} follows {position}")
                    prev_hash, stored = row[10], row[11]
                    if prev_hash != prev_hex:
                        return broken(
                            expected, "prev_hash does not link to the previous event's hash"
                        )
                    try:
                        form = _pg_canonical(row) if postgres else canonical(_sqlite_fields(row))
                    except (TypeError, ValueError) as error:
                        return broken(expected, f"stored fields have no canonical form: {error}")
                    hasher = leaf_prefix.copy()
                    hasher.update(form)
                    leaf = hasher.digest()
                    computed = sha256(chain + leaf).digest()
                    computed_hex = computed.hex()
                    if stored != computed_hex:
                        return broken(expected, "hash does not match the event's stored fields")
                    if on_leaf is not None:
                        on_leaf(expected, leaf)
                    position, chain, prev_hex = expected, computed, computed_hex
                    checked += 1
                if progress is not None:
                    progress(checked)
    if progress is not None:
        progress(checked)
    return ChainReport(checked, position, prev_hex)
