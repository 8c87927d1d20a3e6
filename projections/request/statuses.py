"""The derived status of a request (SPEC §3): its values and the one rule (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Literal, Protocol, get_args

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


class StatusInputs(Protocol):
    """The facts the derived status depends on: a `request_state` row has them as
    columns; `status(state)` takes them from a folded state."""

    @property
    def withdrawn_at(self) -> datetime | None: ...
    @property
    def refused_at(self) -> datetime | None: ...
    @property
    def approved_at(self) -> datetime | None: ...
    @property
    def valid_until(self) -> date | None: ...
    @property
    def circulated_at(self) -> datetime | None: ...
    @property
    def deadline(self) -> datetime | None: ...
    @property
    def active_holds(self) -> int:
        """How many holds are active."""
        ...


def derived_status(facts: StatusInputs, at: datetime, tz: tzinfo = UTC) -> Status:
    """The derived status of SPEC §3 as of `at`, from the facts it depends on: the one
    rule, for a folded state (`status`) and a `request_state` row
    (`projections.tables.status_at`; `status_is` is its SQL form, tested against it).
    Validity dates are read in `tz` (the committee's zone): an exemption is active
    through the whole of `valid_until`, and one approved with a later `valid_from` is
    `active` (approved, not expired)."""
    if facts.withdrawn_at is not None:
        return "withdrawn"
    if facts.refused_at is not None:
        return "refused"
    valid_until = facts.valid_until
    if facts.approved_at is not None and valid_until is not None:
        return "expired" if at.astimezone(tz).date() > valid_until else "active"
    deadline = facts.deadline
    if facts.circulated_at is None or deadline is None:
        return "submitted"
    unheld: Status = "awaiting_decision" if at > deadline else "under_review"
    return with_holds(unheld, facts.active_holds > 0)


#: The statuses an active hold turns into `on_hold`: a circulated request's with a
#: deadline, before any decision.
HOLDABLE: frozenset[Status] = frozenset({"under_review", "awaiting_decision"})


def with_holds(unheld: Status, held: bool) -> Status:
    """The status with the holds counted, from the status without them (`unheld`, as if
    no hold were active) and whether some hold is active (`held`): the rule
    `derived_status` applies, and the reads of the bitemporal projection, whose status
    rows keep the status without the holds."""
    return "on_hold" if held and unheld in HOLDABLE else unheld
