"""The bitemporal projection's tables (SQLAlchemy Core): status intervals, hold intervals
and the per-event versions they point at. Migration: `0005_request_intervals`.

Rows are only inserted, or closed once (`recorded_to` set) when a later event of the
stream supersedes them (see `projections.intervals`). `docket rebuild` empties and
refills them like the other projections; the projection's progress is its row
(`request_intervals`) in `projection_checkpoints`.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Column, Date, Index, Table, Text

from events.schema import Position, UtcTime, metadata
from projections.intervals import HoldInterval, StatusInterval, Version

#: The projection's name in `projection_checkpoints`.
NAME = "request_intervals"

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
    # members with an active hold, as ",CHN,USA," (NULL when none), as in `request_state`
    Column("held_by", Text, nullable=True),
    Column("information_pending", Boolean, nullable=False),
    Column("open_procedure", Text, nullable=True),
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
    Index(None, "status", "request_id"),
    Index(None, "valid_from"),
)

request_versions = Table(
    "request_versions",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("position", Position, primary_key=True, autoincrement=False),
    Column("occurred_at", UtcTime, nullable=False),
    # `projections.intervals.summary` of the state after the event at `position`
    Column("summary", JSON, nullable=False),
)

hold_intervals = Table(
    "hold_intervals",
    metadata,
    Column("request_id", Text, primary_key=True),
    # the position of the HoldPlaced event
    Column("hold_position", Position, primary_key=True, autoincrement=False),
    Column("recorded_from", Position, primary_key=True, autoincrement=False),
    Column("valid_from", UtcTime, primary_key=True),
    Column("recorded_to", Position, nullable=True),
    Column("valid_to", UtcTime, nullable=True),
    Column("member", Text, nullable=False),
    Column("procedure", Text, nullable=False),
    Column("placed_at", UtcTime, nullable=False),
    Column("ended_at", UtcTime, nullable=True),
    Column("end_kind", Text, nullable=True),
    Index(None, "member", "valid_from"),
    Index(None, "valid_from"),
)

TABLES: tuple[Table, ...] = (request_status_intervals, request_versions, hold_intervals)


def held_by_text(members: tuple[str, ...]) -> str | None:
    return "".join(f",{m}" for m in members) + "," if members else None


def status_record(row: StatusInterval) -> tuple[Any, ...]:
    """A status interval in `request_status_intervals`' column order."""
    facts = row.facts
    return (
        row.request_id,
        row.recorded_from,
        row.valid_from,
        row.recorded_to,
        row.valid_to,
        row.status,
        facts.submitted_at,
        facts.applicant_name,
        held_by_text(facts.held_by),
        facts.information_pending,
        facts.open_procedure,
        facts.circulated_at,
        facts.decided_at,
        facts.outcome,
        facts.approved_at,
        facts.refused_at,
        facts.withdrawn_at,
        facts.exemption_from,
        facts.exemption_until,
        facts.disclosure,
    )


def version_record(version: Version) -> tuple[Any, ...]:
    """A version in `request_versions`' column order, the summary as JSON text."""
    return (
        version.request_id,
        version.position,
        version.occurred_at,
        orjson.dumps(version.summary).decode(),
    )


def hold_record(row: HoldInterval) -> tuple[Any, ...]:
    """A hold interval in `hold_intervals`' column order."""
    return (
        row.request_id,
        row.hold_position,
        row.recorded_from,
        row.valid_from,
        row.recorded_to,
        row.valid_to,
        row.member,
        row.procedure,
        row.placed_at,
        row.ended_at,
        row.end_kind,
    )
