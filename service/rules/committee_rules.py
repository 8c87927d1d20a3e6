"""Decide functions for the roster and for a member's holds across requests (pure).

A departure and a bulk release touch many streams at once; the shell passes the states
of the requests the member holds (`held`), and appends every change atomically.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.types import (
    COMMITTEE_STREAM,
    Change,
    HoldLapsed,
    HoldReleased,
    MemberDeparted,
    MemberSeated,
    request_stream,
)
from projections.committee import Roster, departing_seat
from projections.request import RequestState
from service.rules import errors
from service.rules.checks import occurred_at
from service.rules.commands import DepartMember, ReleaseAll, SeatMember
from service.rules.context import Context

__all__ = ["depart_member", "release_all_holds", "seat_member"]


def seat_member(roster: Roster, command: SeatMember, context: Context) -> list[Change]:
    """`MemberSeated`, unless the member already sits during part of that term."""
    at = occurred_at(roster.last_occurred_at, command, context)
    for seat in roster.seats:
        if seat.member == command.member and seat.overlaps(command.term_start, command.term_end):
            raise errors.MemberAlreadySeated(
                f"{command.member} already sits from {seat.term_start.isoformat()}"
            )
    event = MemberSeated(
        member=command.member, term_start=command.term_start, term_end=command.term_end
    )
    return [Change(COMMITTEE_STREAM, "MemberSeated", event.to_data(), at)]


def depart_member(
    roster: Roster,
    command: DepartMember,
    context: Context,
    *,
    member: str,
    held: Sequence[RequestState],
) -> list[Change]:
    """`MemberDeparted`, and (if the policy says holds lapse on departure) a
    `HoldLapsed` in every request of `held` where the member has an active hold."""
    at = occurred_at(roster.last_occurred_at, command, context)
    if departing_seat(roster, member, command.on) is None:
        raise errors.DepartureRequiresSeatedMember(
            f"{member} holds no seat to leave on {command.on.isoformat()}"
        )
    event = MemberDeparted(member=member, on=command.on)
    changes = [Change(COMMITTEE_STREAM, "MemberDeparted", event.to_data(), at)]
    if context.holds_lapse_on_departure:
        for state in held:
            hold = state.active_hold_by(member)
            if hold is None:
                continue
            occurred_at(state.last_occurred_at, command, context)
            lapse = HoldLapsed(procedure=hold.procedure, member=member, cause="member_departed")
            changes.append(
                Change(request_stream(state.request_id), "HoldLapsed", lapse.to_data(), at)
            )
    return changes


def release_all_holds(
    command: ReleaseAll, context: Context, *, member: str, held: Sequence[RequestState]
) -> list[Change]:
    """`HoldReleased` in every request of `held` where `member` has an active hold; an
    empty list if there is none (nothing to write, nothing broken)."""
    changes = []
    for state in held:
        hold = state.active_hold_by(member)
        if hold is None:
            continue
        at = occurred_at(state.last_occurred_at, command, context)
        release = HoldReleased(procedure=hold.procedure, member=member, note=command.note)
        changes.append(
            Change(request_stream(state.request_id), "HoldReleased", release.to_data(), at)
        )
    return changes
