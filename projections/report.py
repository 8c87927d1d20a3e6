"""The committee's figures as of a moment, for an auditor's report anyone can recompute
(pure).

`report(events, as_of, at_position, checkpoint)` folds every request stream to the
moment — the events known at `at_position` (less the targets of the retractions up to
it) that occurred by `as_of`, as `GET /v1/requests/{id}?as_of=&at_position=` folds one
request — and counts. The log is
read no further than the checkpoint's size, so a server (from its database) and anyone
holding an export verified against that checkpoint (offline) compute the same figures
from the same events, and the renderers turn them into the same bytes.

Conventions (those of `projections.stats`): requests count in the year submitted;
approvals and refusals of the initial procedure in the year decided, with the days from
submission to that decision; withdrawals in the year withdrawn; an active hold counts
its days up to `as_of`. Days are rounded to 2 decimals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events.model import utc_text
from projections import holds as hold_rows
from projections.errors import ProjectionError
from projections.history import EventRow, request_id_of
from projections.request import RequestState, fold, status
from projections.stats import RequestFacts, hold_stats, pending_over, processing_stats

__all__ = ["LONGEST_HOLDS", "Report", "ReportCheckpoint", "ReportRefused", "report"]

#: How many of the longest holds the report lists.
LONGEST_HOLDS = 10


class ReportRefused(ProjectionError, ValueError):
    """The report cannot be computed as asked (named in the message)."""


@dataclass(frozen=True, slots=True)
class ReportCheckpoint:
    """The signed tree head the report was computed from: origin, size, root (hex)."""

    origin: str
    size: int
    root: str


@dataclass(frozen=True, slots=True)
class Report:
    """The figures and the moment and checkpoint they reflect."""

    as_of: datetime
    at_position: int
    checkpoint: ReportCheckpoint
    years: list[dict[str, Any]]
    pending_over_days: dict[str, int]
    members: list[dict[str, Any]]
    longest_holds: list[dict[str, Any]]
    requests: int

    def document(self) -> dict[str, Any]:
        """The report as plain JSON values (what every renderer draws from)."""
        return {
            "report": "docket committee figures",
            "as_of": utc_text(self.as_of),
            "at_position": self.at_position,
            "checkpoint": {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": self.checkpoint.root,
            },
            "requests": self.requests,
            "years": self.years,
            "pending_over_days": self.pending_over_days,
            "members": self.members,
            "longest_holds": self.longest_holds,
        }


def _round(days: float | None) -> float | None:
    return None if days is None else round(days, 2)


def _facts(state: RequestState, at: datetime) -> RequestFacts:
    initial = state.procedures[0]
    decided = initial.outcome in ("approved", "refused")
    return RequestFacts(
        request_id=state.request_id,
        submitted_at=state.submitted_at,
        # validity dates are the only zone-dependent part of the status, and no figure
        # here tells active from expired: UTC keeps the report free of a zone setting
        status=status(state, at, UTC),
        decided_at=initial.decided_at if decided else None,
        outcome=initial.outcome if decided else None,  # type: ignore[arg-type]
    )


def _years(states: list[RequestState], facts: list[RequestFacts]) -> list[dict[str, Any]]:
    withdrawn: Counter[int] = Counter(
        state.withdrawn_at.year for state in states if state.withdrawn_at is not None
    )
    by_year = {entry["year"]: entry for entry in processing_stats(facts)}
    out = []
    for year in sorted(set(by_year) | set(withdrawn)):
        entry = by_year.get(year, {})
        out.append(
            {
                "year": year,
                "requests": entry.get("submitted", 0),
                "approvals": entry.get("approved", 0),
                "refusals": entry.get("refused", 0),
                "withdrawals": withdrawn[year],
                "median_days_to_decision": entry.get("median_days_to_decision"),
                "mean_days_to_decision": entry.get("mean_days_to_decision"),
            }
        )
    return out


def _longest(holds: list[hold_rows.Hold], at: datetime) -> list[dict[str, Any]]:
    timed = [(hold.duration_days(at) or 0.0, hold) for hold in holds]
    timed.sort(key=lambda pair: (-pair[0], pair[1].position))
    return [
        {
            "request_id": hold.request_id,
            "member": hold.member,
            "procedure": hold.procedure,
            "placed_at": utc_text(hold.placed_at),
            "ended_at": None if hold.ended_at is None else utc_text(hold.ended_at),
            "end": hold.end,
            "active": hold.active,
            "days": _round(days),
        }
        for days, hold in timed[:LONGEST_HOLDS]
    ]


def report(
    events: Iterable[EventRow],
    as_of: datetime,
    at_position: int | None,
    checkpoint: ReportCheckpoint,
) -> Report:
    """The figures as of business time `as_of`, as the log held them at `at_position`
    (None: the checkpoint's size), from `events` in position order. Events past the
    checkpoint are not read; a position past it is refused (sign a newer checkpoint)."""
    if as_of.tzinfo is None:
        raise ReportRefused("as_of must carry a time zone")
    if at_position is None:
        at_position = checkpoint.size
    if at_position < 0:
        raise ReportRefused(f"at_position {at_position} is negative")
    if at_position > checkpoint.size:
        raise ReportRefused(
            f"at_position {at_position} is past the checkpoint's size {checkpoint.size}: "
            "a report is computed from signed events only (sign a newer checkpoint)"
        )
    streams: dict[str, list[EventRow]] = defaultdict(list)
    for event in events:
        if event.position > at_position:
            break
        if request_id_of(event.stream_id) is not None:
            streams[event.stream_id].append(event)
    states: list[RequestState] = []
    holds: list[hold_rows.Hold] = []
    for stream in streams.values():
        # what the log knows at `at_position` (a retraction up to it takes its target
        # back at every business time), as of `as_of`
        state = fold(stream, as_of=as_of)
        if state is None:
            continue
        states.append(state)
        holds.extend(hold_rows.fold(stream, as_of=as_of))  # type: ignore[arg-type]
    states.sort(key=lambda state: state.request_id)
    holds.sort(key=lambda hold: hold.position)
    facts = [_facts(state, as_of) for state in states]
    return Report(
        as_of=as_of,
        at_position=at_position,
        checkpoint=checkpoint,
        years=_years(states, facts),
        pending_over_days=pending_over(facts, as_of),
        members=hold_stats(holds, as_of),
        longest_holds=_longest(holds, as_of),
        requests=len(states),
    )
