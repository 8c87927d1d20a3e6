"""Holds as rows: who held which procedure of which request, from when to when (pure).

A hold starts with `HoldPlaced` and ends with `HoldReleased` (`released`) or `HoldLapsed`
(`lapsed`). A hold still outstanding when its procedure is refused or the request is
withdrawn ends then too (`closed`): otherwise it would count as active for ever.
A hold is identified by the position of the event that placed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from events.model import RecordedEvent
from projections.history import EventRow, request_id_of
from projections.request.folding import known

EndKind = Literal["released", "lapsed", "closed"]

SECONDS_PER_DAY = 86_400.0

#: Events that settle a procedure (`procedure` in their data) or, for a withdrawal,
#: the whole request: any hold still outstanding on it ends with them.
CLOSING_EVENTS = frozenset(
    {
        "ExemptionApproved",
        "ExemptionRefused",
        "ExtensionGranted",
        "ExtensionRefused",
        "AmendmentApproved",
        "AmendmentRefused",
        "RequestWithdrawn",
    }
)

#: Every event type `evolve` looks at; the rest leave the holds as they are.
HOLD_EVENTS = frozenset({"HoldPlaced", "HoldReleased", "HoldLapsed"}) | CLOSING_EVENTS


@dataclass(frozen=True, slots=True)
class Hold:
    """One hold: a row of `holds`."""

    position: int
    request_id: str
    procedure: str
    member: str
    placed_at: datetime
    ended_at: datetime | None = None
    end: EndKind | None = None

    @property
    def active(self) -> bool:
        return self.end is None

    def duration_days(self, now: datetime | None = None) -> float | None:
        """Days the hold lasted; an active hold counts up to `now` (None without it)."""
        until = self.ended_at if self.ended_at is not None else now
        if until is None:
            return None
        return max((until - self.placed_at).total_seconds(), 0.0) / SECONDS_PER_DAY

    @classmethod
    def of_row(cls, row: Any, position: int) -> Hold:
        """A hold from a row with the `holds` columns (the end as `end_kind`), the hold's
        position given: `holds` and `hold_intervals` name that column differently."""
        return cls(
            position=position,
            request_id=row.request_id,
            procedure=row.procedure,
            member=row.member,
            placed_at=row.placed_at,
            ended_at=row.ended_at,
            end=row.end_kind,
        )


Holds = tuple[Hold, ...]


_ANY = object()  # `_end`: a hold of any member, or of any procedure


def _end(holds: Holds, member: object, procedure: object, moment: datetime, kind: EndKind) -> Holds:
    """`holds` with those active of `member` on `procedure` (`_ANY`: whichever) ended
    at `moment`; the same tuple when none is."""
    ended: list[Hold] | None = None
    for index, hold in enumerate(holds):
        if (
            hold.end is None
            and (member is _ANY or hold.member == member)
            and (procedure is _ANY or hold.procedure == procedure)
        ):
            if ended is None:
                ended = list(holds)
            ended[index] = _ended(hold, moment, kind)
    return holds if ended is None else tuple(ended)


def _ended(hold: Hold, moment: datetime, kind: EndKind) -> Hold:
    """`replace(hold, ended_at=moment, end=kind)`, without `replace`'s field walk."""
    return Hold(
        hold.position, hold.request_id, hold.procedure, hold.member, hold.placed_at, moment, kind
    )


def evolve(holds: Holds, event: EventRow) -> Holds:
    """The holds of one request after `event`; the same tuple when nothing changed.

    `holds` must contain at least the request's active holds (ended ones may be left
    out: nothing changes them).
    """
    kind = event.event_type
    if kind not in HOLD_EVENTS:
        return holds
    data = event.data
    procedure = data.get("procedure")
    if kind == "HoldPlaced":
        request_id = request_id_of(event.stream_id) or event.stream_id
        hold = Hold(
            position=event.position,
            request_id=request_id,
            procedure=str(procedure),
            member=str(data["member"]),
            placed_at=event.occurred_at,
        )
        return (*holds, hold)
    if kind == "HoldReleased":
        return _end(holds, data.get("member"), procedure, event.occurred_at, "released")
    if kind == "HoldLapsed":
        return _end(holds, data.get("member"), procedure, event.occurred_at, "lapsed")
    if kind == "RequestWithdrawn":
        return _end(holds, _ANY, _ANY, event.occurred_at, "closed")
    return _end(holds, _ANY, procedure, event.occurred_at, "closed")


def fold(
    events: Iterable[RecordedEvent],
    *,
    as_of: datetime | None = None,
    at_position: int | None = None,
) -> Holds:
    """Every hold of one request stream as `request.fold` sees it: of the events known at
    `at_position` (`request.known`: retracted ones left out at every business time),
    those with `occurred_at <= as_of`."""
    holds: Holds = ()
    for event in known(events, at_position):
        if as_of is None or event.occurred_at <= as_of:
            holds = evolve(holds, event)
    return holds
