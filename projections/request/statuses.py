"""The derived status of a request (SPEC §3): its values and the one rule (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Literal, get_args

Status = Literal[
    "submitted",
    "under_review",
    "on_hold",
    "awaiting_decision",
    "active",
    "expired",
    "refused",
    "withdrawn",
]

#: Every derived status (SPEC §3), in the order of the procedure.
STATUSES: tuple[Status, ...] = get_args(Status)
#: Derived statuses of a request still waiting for its initial decision.
PENDING_STATUSES: frozenset[Status] = frozenset(
    {"submitted", "under_review", "on_hold", "awaiting_decision"}
)


def derived_status(
    *,
    withdrawn_at: datetime | None,
    refused_at: datetime | None,
    approved_at: datetime | None,
    valid_until: date | None,
    circulated_at: datetime | None,
    deadline: datetime | None,
    holds: int,
    at: datetime,
    tz: tzinfo = UTC,
) -> Status:
    """The derived status of SPEC §3 as of `at`, from the facts it depends on: the one
    rule, for a folded state (`status`) and a `request_state` row
    (`projections.tables.status_at`; `status_is` is its SQL form, tested against it).
    `holds` is the number of active holds. Validity dates are read in `tz` (the
    committee's zone): an exemption is active through the whole of `valid_until`, and
    one approved with a later `valid_from` is `active` (approved, not expired)."""
    if withdrawn_at is not None:
        return "withdrawn"
    if refused_at is not None:
        return "refused"
    if approved_at is not None and valid_until is not None:
        return "expired" if at.astimezone(tz).date() > valid_until else "active"
    if circulated_at is None or deadline is None:
        return "submitted"
    if holds:
        return "on_hold"
    if at > deadline:
        return "awaiting_decision"
    return "under_review"
