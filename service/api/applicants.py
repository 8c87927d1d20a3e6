"""What an applicant is told (SPEC §7): one 404 for another organisation's request and for
one that does not exist, no choice of `occurred_at`, no time of an event it may not see.

The ownership check reads the request's current state before any `as_of` /
`at_position` fold: folding first answered "no request X" before another organisation's
submission and "no request X of <org>" after it, which located a confidential
submission's time in a few dozen probes.
"""

from __future__ import annotations

from typing import Any

from service.api.problems import Conflict, NotFound, Unprocessable
from service.commands import CommandService
from service.errors import DocketError
from service.tokens import Caller

#: The rule of the one 404 an applicant gets for any request not its own.
NOT_FOUND_RULE = "request-not-found"
OCCURRED_AT_RULE = "occurred-at-set-by-server"
_TIMED_RULES = frozenset({"occurred-before-last-event"})


def no_such_request(request_id: str) -> NotFound:
    """The same problem whether the request is missing or another organisation's."""
    return NotFound(f"no request {request_id}", rule=NOT_FOUND_RULE)


def owns(caller: Caller, applicant: dict[str, Any] | None) -> bool:
    return caller.role != "applicant" or (applicant or {}).get("name") == caller.org


async def check_owner(commands: CommandService, caller: Caller, request_id: str) -> None:
    """For an applicant: the request exists now and is its own, or the one 404."""
    if caller.role != "applicant":
        return
    state = await commands.request_state(request_id)
    if state is None or not owns(caller, state.applicant):
        raise no_such_request(request_id)


def refuse_occurred_at(caller: Caller, occurred_at: object) -> None:
    """Applicants cannot choose when their answer happened: the server's clock says.

    A 422 naming the rule rather than silently ignoring the value: a client that sends
    `occurred_at` believes it is recorded; it should learn at once that it is not."""
    if caller.role == "applicant" and occurred_at is not None:
        raise Unprocessable(
            "occurred_at is set by the server for applicants; send the answer without it",
            rule=OCCURRED_AT_RULE,
        )


def without_hidden_times(caller: Caller, conflict: DocketError) -> DocketError:
    """A refusal that quotes the time of the stream's last event (maybe a confidential
    review step) becomes one without it for an applicant."""
    if caller.role != "applicant" or conflict.rule not in _TIMED_RULES:
        return conflict
    return Conflict(
        "the request changed while this answer was recorded; send it again",
        rule=conflict.rule,
        status=conflict.status,
        title=conflict.title,
    )
