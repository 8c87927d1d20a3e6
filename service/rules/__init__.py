"""The exemption procedure's decision rules: pure decide functions, one per command.

`decide_x(state, command, context) -> list[Change]`, raising a `RuleBroken` (409, or 404
for `request-not-found`) that names the rule. No I/O and no clock: `context.now` is the
time, `context.roster` the committee.
"""

from events.types import Change
from service.rules.committee_rules import depart_member, release_all_holds, seat_member
from service.rules.context import Context
from service.rules.decision_rules import decide
from service.rules.errors import RULES, RuleBroken
from service.rules.request_rules import (
    annotate,
    circulate,
    place_hold,
    provide_information,
    record_review,
    record_shipment,
    release_hold,
    request_amendment,
    request_extension,
    request_information,
    retract,
    submit,
    withdraw,
)

__all__ = [
    "RULES",
    "Change",
    "Context",
    "RuleBroken",
    "annotate",
    "circulate",
    "decide",
    "depart_member",
    "place_hold",
    "provide_information",
    "record_review",
    "record_shipment",
    "release_all_holds",
    "release_hold",
    "request_amendment",
    "request_extension",
    "request_information",
    "retract",
    "seat_member",
    "submit",
    "withdraw",
]
