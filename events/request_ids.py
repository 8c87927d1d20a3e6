"""Server-assigned request ids, race-free and O(1) (SPEC §9, R11): the pure part.

`HX-<year>-<seq>`: the year of the submission's `occurred_at` in UTC, the sequence
counting that year's server-assigned ids, four digits, wider past 9999. The last number
of each year is a row of `request_sequences` (migration 0004). A submission without an id
is a `NumberedRequest`, appended with `EventStore.append_numbered`: the writer numbers it
inside the append's transaction, under the log's single-writer lock (PostgreSQL's
advisory lock, SQLite's write lock), and the backend stores the year's new last number
in that same transaction. So, across every process:

- unique: one writer at a time reads and moves the year's number;
- gap-free: a number is taken only by a call that is written (a refused call, or an
  idempotent retry whose events are already in the log, takes none), and a transaction
  that rolls back takes its numbers back with it;
- O(1): one primary-key read and one upsert per batch, plus one index probe per number
  handed out, never a scan of the year's requests;
- an id already in the log (one a caller chose, `HX-2026-0042`) is passed over, so a
  server id never collides with it; a caller-supplied id that exists is the stream
  conflict it always was (409 `request-already-exists`), decided by the rules.

The backend reads, with the batch's state, the versions of the next few streams of each
year (`candidates`); `take_number` walks them. A batch that runs past them (a long run of
ids callers chose themselves) refuses the call with `NumberingExhausted` after moving the
year's number past that run, so the caller's retry gets further.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from events.errors import NumberingExhausted
from events.model import NewEvent
from events.types import request_stream

__all__ = [
    "SLACK",
    "NumberedRequest",
    "NumberingExhausted",
    "candidate_streams",
    "candidates",
    "format_request_id",
    "parse_request_id",
    "take_number",
]

PREFIX = "HX"
_SERVER_ID = re.compile(r"HX-([0-9]{4})-([0-9]+)")

#: Streams looked up beyond the numbers a batch needs, for ids callers chose themselves.
SLACK = 8


def format_request_id(year: int, sequence: int) -> str:
    """`HX-<year>-<4-digit sequence>` (wider when the sequence is over 9999)."""
    if sequence < 1:
        raise ValueError(f"request sequences start at 1, not {sequence}")
    return f"{PREFIX}-{year}-{sequence:04d}"


def parse_request_id(request_id: str) -> tuple[int, int] | None:
    """(year, sequence) of an id of the server's form, else None."""
    found = _SERVER_ID.fullmatch(request_id)
    return (int(found[1]), int(found[2])) if found else None


@dataclass(frozen=True, slots=True)
class NumberedRequest:
    """A new request stream under the next server id of `year`. `build(request_id)`
    gives its events (each with an id of `event_ids`, in that order, for the stream
    `request-<request_id>`); it may raise, and is then the call's refusal."""

    year: int
    event_ids: Sequence[uuid.UUID]
    build: Callable[[str], Sequence[NewEvent]]


def candidates(needed: Mapping[int, int], last: Mapping[int, int]) -> dict[int, int]:
    """For each year, the highest sequence whose stream a batch looks up: the year's
    last number, the count of its numbered calls, and `SLACK`."""
    return {year: last.get(year, 0) + count + SLACK for year, count in needed.items()}


def candidate_streams(limits: Mapping[int, int], last: Mapping[int, int]) -> list[str]:
    """The streams of the sequences after each year's last number, up to its limit."""
    return [
        request_stream(format_request_id(year, sequence))
        for year, limit in limits.items()
        for sequence in range(last.get(year, 0) + 1, limit + 1)
    ]


def take_number(
    year: int, last: int, limit: int, exists: Callable[[str], bool]
) -> tuple[str | None, int]:
    """The first id after `last` whose stream does not `exist`, and the year's new last
    number; `(None, n)` when every stream up to `limit` exists (n: the last of them)."""
    sequence = last
    while sequence < limit:
        sequence += 1
        request_id = format_request_id(year, sequence)
        if not exists(request_stream(request_id)):
            return request_id, sequence
    return None, sequence
