"""The JSON of a request state (SPEC §6), its status as of a given time (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from projections.request.state import RequestState, TimeForm, _day, _time, status


def view(
    state: RequestState, at: datetime, tz: tzinfo = UTC, time: TimeForm = _time
) -> dict[str, Any]:
    """The JSON of `GET /v1/requests/{id}` (SPEC §6), status as of `at`. Unredacted.
    Its times as `time` gives them (`state.native_time`: dumped with `OPT_UTC_Z`)."""
    return {
        "request_id": state.request_id,
        "status": status(state, at, tz),
        "applicant": dict(state.applicant),
        "channel": state.channel,
        "sponsor": state.sponsor,
        "title": state.title,
        "purpose": state.purpose,
        "beneficiaries": state.beneficiaries,
        "items": list(state.items),
        "urgent": state.urgent,
        "requested_validity_months": state.requested_validity_months,
        "justification": state.justification,
        "disclosure": state.disclosure,
        "submitted_at": time(state.submitted_at),
        "open_procedure": state.open_procedure,
        "information_pending": state.information_pending,
        "deadline": time(state.deadline),
        "active_holds": [
            {"member": hold.member, "placed_at": time(hold.placed_at)}
            for hold in state.active_holds
        ],
        "holds": [hold.to_dict(time) for hold in state.holds],
        "information_requests": [asked.to_dict(time) for asked in state.information_requests],
        "reviews": [review.to_dict(time) for review in state.reviews],
        "procedures": [procedure.to_dict(time) for procedure in state.procedures],
        "approved_at": time(state.approved_at),
        "valid_from": _day(state.valid_from),
        "valid_until": _day(state.valid_until),
        "letter_ref": state.letter_ref,
        "shipments_allowed": state.shipments_allowed,
        "shipments": [shipment.to_dict(time) for shipment in state.shipments],
        "extensions": [p.to_dict(time) for p in state.extensions],
        "amendments": [p.to_dict(time) for p in state.amendments],
        "decided_at": time(state.decided_at),
        "refused_at": time(state.refused_at),
        "withdrawn_at": time(state.withdrawn_at),
        "annotations": [note.to_dict(time) for note in state.annotations],
        "retracted_positions": list(state.retracted),
        "stream_version": state.stream_version,
        "position": state.position,
    }


def public_view(
    state: RequestState, at: datetime, tz: tzinfo = UTC, time: TimeForm = _time
) -> dict[str, Any] | None:
    """The part of `view` that a public record is made of (`projections.public` reads no
    other key), or None when the public may not see the request (`is_public`: approved,
    or submitted with `disclosure: public`). Each value is `view`'s own. What
    `request_state` keeps for the public feeds: the rest of a view is the log's, folded
    from the request's stream when asked for."""
    approved = state.approved_at is not None or state.procedures[0].outcome == "approved"
    if not approved and state.disclosure != "public":
        return None
    return {
        "request_id": state.request_id,
        "status": status(state, at, tz),
        "applicant": dict(state.applicant),
        "title": state.title,
        "items": list(state.items),
        "disclosure": state.disclosure,
        "submitted_at": time(state.submitted_at),
        "procedures": [procedure.to_dict(time) for procedure in state.procedures],
        "approved_at": time(state.approved_at),
        "valid_from": _day(state.valid_from),
        "valid_until": _day(state.valid_until),
        "letter_ref": state.letter_ref,
        "shipments": [shipment.to_dict(time) for shipment in state.shipments],
        "extensions": [p.to_dict(time) for p in state.extensions],
        "amendments": [p.to_dict(time) for p in state.amendments],
        "refused_at": time(state.refused_at),
        "withdrawn_at": time(state.withdrawn_at),
    }
