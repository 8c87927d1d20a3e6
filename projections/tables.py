"""The read models' tables (SQLAlchemy Core), on the log's metadata and naming convention.

These tables are not append-only: the runner rewrites them, and `docket rebuild` fills
copies of them aside and swaps them in. Each projection's progress is its row in
`projection_checkpoints`, written in the same transaction as its rows. Migrations:
`0002_projections`, `0018_holds_a_view`, `0019_hold_durations`.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    or_,
)
from sqlalchemy.sql.elements import ColumnElement

from events.schema import Position, UtcTime, metadata
from projections.request import Status, derived_status

projection_checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", Text, primary_key=True),
    Column("position", Position, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
)

request_state = Table(
    "request_state",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("stream_id", Text, nullable=False),
    Column("stream_version", BigInteger, nullable=False),
    # the position of the last event folded into the row
    Column("position", Position, nullable=False),
    Column("submitted_at", UtcTime, nullable=False),
    Column("last_occurred_at", UtcTime, nullable=False),
    Column("applicant_name", Text, nullable=False),
    Column("applicant_kind", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("sponsor", Text, nullable=True),
    Column("title", Text, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("disclosure", Text, nullable=False),
    # the status as of the last event; read `status_at`/`status_is` for the status now
    Column("status_hint", Text, nullable=False),
    Column("open_procedure", Text, nullable=True),
    Column("circulated_at", UtcTime, nullable=True),
    # the deadline of the open (else the last) procedure
    Column("deadline", UtcTime, nullable=True),
    Column("active_holds", Integer, nullable=False),
    # members with an active hold, as ",CHN,USA," (NULL when none): `held_by_is(member)`
    Column("held_by", Text, nullable=True),
    Column("information_pending", Boolean, nullable=False),
    # the initial procedure's decision (approved, refused, withdrawn)
    Column("decided_at", UtcTime, nullable=True),
    Column("outcome", Text, nullable=True),
    Column("approved_at", UtcTime, nullable=True),
    Column("refused_at", UtcTime, nullable=True),
    Column("withdrawn_at", UtcTime, nullable=True),
    Column("valid_from", Date, nullable=True),
    Column("valid_until", Date, nullable=True),
    # `projections.request.public_view` of the state (the public feeds' records are made
    # of it) less the keys that are columns here (`read_models.request_state.public_of`
    # puts them back), NULL when the public may not see the request; a request's whole
    # view is its stream folded
    Column("public_document", JSON, nullable=True),
    Index(None, "submitted_at"),
    Index(None, "applicant_name"),
    Index(None, "status_hint"),
)

#: `holds` (SPEC §5: one row per hold): a view of the head rows of `hold_intervals` (the
#: holds the log knows now, with their ends and durations), as far as `request_intervals`
#: is (0018, 0019). Its own metadata: nothing creates it but the migrations.
holds = Table(
    "holds",
    MetaData(),
    # the position of the HoldPlaced event
    Column("position", Position, primary_key=True, autoincrement=False),
    Column("request_id", Text, nullable=False),
    Column("procedure", Text, nullable=False),
    Column("member", Text, nullable=False),
    Column("placed_at", UtcTime, nullable=False),
    Column("ended_at", UtcTime, nullable=True),
    Column("end_kind", Text, nullable=True),
    # an ended hold's length in microseconds (`hold_intervals.held_us`); NULL while active
    Column("duration", Position, nullable=True),
)


def held_by_is(member: str) -> ColumnElement[bool]:
    """Rows of `request_state` on which `member` has an active hold."""
    return request_state.c.held_by.contains(f",{member},", autoescape=True)


def status_at(row: Any, at: datetime, tz: tzinfo = UTC) -> Status:
    """The derived status (SPEC §3) of a `request_state` row as of `at`:
    `projections.request.derived_status` of the row's columns."""
    return derived_status(row, at, tz)


def status_is(status: str, at: datetime, tz: tzinfo = UTC) -> ColumnElement[bool]:
    """A WHERE clause: `request_state` rows whose derived status as of `at` is `status`
    (or, for `pending`, one of `PENDING_STATUSES`): `status_at` in SQL, for filtering
    lists in the database. Tested against it on every combination of the columns."""
    c = request_state.c
    today = at.astimezone(tz).date()
    approved = and_(c.approved_at.is_not(None), c.valid_until.is_not(None))
    undecided = and_(c.withdrawn_at.is_(None), c.refused_at.is_(None), ~approved)
    circulated = and_(undecided, c.circulated_at.is_not(None), c.deadline.is_not(None))
    match status:
        case "withdrawn":
            return c.withdrawn_at.is_not(None)
        case "refused":
            return and_(c.withdrawn_at.is_(None), c.refused_at.is_not(None))
        case "active" | "expired":
            settled = and_(c.withdrawn_at.is_(None), c.refused_at.is_(None), approved)
            in_time = c.valid_until >= today if status == "active" else c.valid_until < today
            return and_(settled, in_time)
        case "submitted":
            return and_(undecided, or_(c.circulated_at.is_(None), c.deadline.is_(None)))
        case "on_hold":
            return and_(circulated, c.active_holds > 0)
        case "awaiting_decision":
            return and_(circulated, c.active_holds == 0, c.deadline < at)
        case "under_review":
            return and_(circulated, c.active_holds == 0, c.deadline >= at)
        case "pending":
            return undecided
    raise ValueError(f"unknown status {status!r}")
