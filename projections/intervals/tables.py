"""The bitemporal projection's tables (SQLAlchemy Core): status intervals and hold
intervals. Migrations: `0005_request_intervals`, `0008_interval_heads`,
`0009_as_of_statistics`, `0010_status_index_dropped`, `0013_interval_runs`,
`0015_lean_runs`, `0017_holds_apart`.

A row is one run of equal content. Rows are only inserted, settled once (`settled_from`,
`valid_to`, `live_to` set) by the event that ends their run, and closed once
(`recorded_to` set) when nothing of them is shown from an event on (see
`projections.intervals.steps`). `docket rebuild` refills them
aside and swaps them in like the other projections; the projection's progress is its row
(`request_intervals`) in `projection_checkpoints`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Date, Index, Integer, Table, Text, text

from events.schema import Position, UtcTime, metadata
from projections.intervals.steps import HoldInterval, StatusFacts, StatusInterval

#: Microseconds (since the epoch, or of a duration): a 64-bit integer, as positions are.
Micros = Position

#: The projection's name in `projection_checkpoints`.
NAME = "request_intervals"


def _head(condition: str | None = None) -> dict[str, Any]:
    """A partial index's predicate on both backends: the rows shown at the log's head
    (`recorded_to IS NULL`), and `condition`."""
    where = "recorded_to IS NULL" + ("" if condition is None else f" AND {condition}")
    return {"postgresql_where": text(where), "sqlite_where": text(where)}


request_status_intervals = Table(
    "request_status_intervals",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("recorded_from", Position, primary_key=True, autoincrement=False),
    Column("valid_from", UtcTime, primary_key=True),
    Column("recorded_to", Position, nullable=True),
    Column("valid_to", UtcTime, nullable=True),
    Column("status", Text, nullable=False),
    Column("submitted_at", UtcTime, nullable=False),
    Column("applicant_name", Text, nullable=False),
    Column("circulated_at", UtcTime, nullable=True),
    # the initial procedure's decision (approved, refused, withdrawn)
    Column("decided_at", UtcTime, nullable=True),
    Column("outcome", Text, nullable=True),
    Column("approved_at", UtcTime, nullable=True),
    Column("refused_at", UtcTime, nullable=True),
    Column("withdrawn_at", UtcTime, nullable=True),
    # the exemption's validity (the request's `valid_from`, `valid_until`)
    Column("exemption_from", Date, nullable=True),
    Column("exemption_until", Date, nullable=True),
    Column("disclosure", Text, nullable=False),
    # what the statistics aggregate in the database (0008): the year of `submitted_at`,
    # of the initial decision, and the time to it in microseconds (when approved or
    # refused)
    Column("submitted_year", Integer, nullable=True),
    Column("decided_year", Integer, nullable=True),
    Column("decision_us", Micros, nullable=True),
    # `span_class(valid_from, valid_to)` (0008)
    Column("span_class", Integer, nullable=True),
    # one row per run (0013): the position of the event that settled it (its end in
    # business time `valid_to` from there on), and its end before (`live_to`)
    Column("settled_from", Position, nullable=True),
    Column("live_to", UtcTime, nullable=True),
    # where time alone changes the row's status (0015): from there on it shows
    # `cuts.TIME_CHANGES[status]`; NULL when it does not within the row
    Column("changes_at", UtcTime, nullable=True),
    Index(None, "valid_from"),
    Index(
        "ix_request_status_intervals_head",
        "status",
        "recorded_to",
        "span_class",
        "valid_from",
        # what the list reads besides, so that it reads the index alone (0009, 0015)
        "valid_to",
        "request_id",
        "changes_at",
    ),
    # the head's decisions and years of submission, for the processing statistics (0009)
    Index(
        "ix_request_status_intervals_decisions",
        "decided_year",
        "decision_us",
        "valid_from",
        "valid_to",
        "outcome",
        **_head("decided_year IS NOT NULL"),
    ),
    Index(
        "ix_request_status_intervals_submitted",
        "submitted_at",
        "submitted_year",
        **_head("valid_from = submitted_at"),
    ),
)

hold_intervals = Table(
    "hold_intervals",
    metadata,
    # one row a hold (and a recording, 0015): shown from `placed_at` in business time at
    # positions [recorded_from, recorded_to), ended at (T, P) when `ended_from <= P`
    # and `ended_at <= T`
    Column("request_id", Text, primary_key=True),
    # the position of the HoldPlaced event
    Column("hold_position", Position, primary_key=True, autoincrement=False),
    Column("recorded_from", Position, primary_key=True, autoincrement=False),
    Column("recorded_to", Position, nullable=True),
    Column("member", Text, nullable=False),
    Column("procedure", Text, nullable=False),
    Column("placed_at", UtcTime, nullable=False),
    Column("ended_at", UtcTime, nullable=True),
    Column("end_kind", Text, nullable=True),
    # the position of the event that ended the hold
    Column("ended_from", Position, nullable=True),
    # `placed_at` and `ended_at` in microseconds since the epoch, and the length of an
    # ended hold
    Column("placed_us", Micros, nullable=False),
    Column("ended_us", Micros, nullable=True),
    Column("held_us", Micros, nullable=True),
    # `span_class(placed_at, ended_at)`: the holds active at T are searched by class
    Column("span_class", Integer, nullable=False),
    Index(None, "member", "placed_at"),
    # the head's holds ended by T, in the order of their length, for the hold statistics
    Index(
        "ix_hold_intervals_ended",
        "member",
        "held_us",
        "ended_us",
        **_head("ended_us IS NOT NULL"),
    ),
    # the head's holds of a request with their times: whether one was active at T, for
    # the status rows of the lists (`queries._held`), from the index alone (0017)
    Index("ix_hold_intervals_request", "request_id", "placed_at", "ended_us", **_head()),
    # the head's holds by span class and placement: those active at T
    Index(
        "ix_hold_intervals_active",
        "span_class",
        "placed_at",
        "ended_us",
        "member",
        "placed_us",
        **_head(),
    ),
)

TABLES: tuple[Table, ...] = (request_status_intervals, hold_intervals)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """`moment` in microseconds since the epoch (exact)."""
    return (moment - _EPOCH) // _MICROSECOND


_SECOND = timedelta(seconds=1)
#: The span class of a row with no end in business time.
OPEN_SPAN = 63
#: The span classes of rows with an end: floor(log2(seconds)), 0 below 2 s.
SPAN_CLASSES = range(0, 41)


def span_class(valid_from: datetime, valid_to: datetime | None) -> int:
    """floor(log2(the row's length in whole seconds)) (0 under 2 s), `OPEN_SPAN` for a row
    without end: a row of class k lasts less than 2^(k+1) s, so one covering a time T
    began after T - 2^(k+1) s (`projections.intervals.queries` searches each class's range).
    """
    if valid_to is None:
        return OPEN_SPAN
    seconds = (valid_to - valid_from) // _SECOND
    return min(max(seconds.bit_length() - 1, 0), SPAN_CLASSES[-1])


def _decision(facts: StatusFacts) -> tuple[int | None, int | None]:
    """The year of the initial decision and the microseconds to it, when the request
    was approved or refused (what `stats.processing_stats` counts)."""
    if facts.outcome not in ("approved", "refused") or facts.decided_at is None:
        return None, None
    taken = max((facts.decided_at - facts.submitted_at) // _MICROSECOND, 0)
    return facts.decided_at.year, taken


def status_record(row: StatusInterval, closed_at: int | None = None) -> tuple[Any, ...]:
    """A status interval in `request_status_intervals`' column order (`closed_at`: its
    `recorded_to`, when a later event of the same batch closed it)."""
    facts = row.facts
    return (
        row.request_id,
        row.recorded_from,
        row.valid_from,
        row.recorded_to if closed_at is None else closed_at,
        row.valid_to,
        row.status,
        facts.submitted_at,
        facts.applicant_name,
        facts.circulated_at,
        facts.decided_at,
        facts.outcome,
        facts.approved_at,
        facts.refused_at,
        facts.withdrawn_at,
        facts.exemption_from,
        facts.exemption_until,
        facts.disclosure,
        facts.submitted_at.year,
        *_decision(facts),
        span_class(row.valid_from, row.valid_to),
        row.settled_from,
        row.live_to,
        row.changes_at,
    )


def hold_record(row: HoldInterval, closed_at: int | None = None) -> tuple[Any, ...]:
    """A hold interval in `hold_intervals`' column order (`closed_at` as for
    `status_record`)."""
    placed = micros(row.placed_at)
    ended = None if row.ended_at is None else micros(row.ended_at)
    return (
        row.request_id,
        row.hold_position,
        row.recorded_from,
        row.recorded_to if closed_at is None else closed_at,
        row.member,
        row.procedure,
        row.placed_at,
        row.ended_at,
        row.end_kind,
        row.ended_from,
        placed,
        ended,
        None if ended is None else ended - placed,
        span_class(row.placed_at, row.ended_at),
    )
