"""The one table of commands (SPEC §6): for each, its path, body, rule, what it needs and
who may send it. Everything else reads it: the routes and the OpenAPI document
(`service.api.commands`), the short path (`service.api.command_path`) and the dispatch
of `CommandService.run`; a command is added here, once.

A command acts on one of four things (`scope`): a new request (`submit`: the store numbers
it), one request (`request`: decided on its folded state), the committee (`committee`:
decided on the roster, and on the requests a member holds), or the log itself (`erasure`:
`service.commands.erasure`, the one command that is no decide function).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from events.types import REQUEST_STREAM_PREFIX, Change
from projections.committee import Roster
from projections.request import RequestState
from service import rules
from service.commands.erasure import Erase
from service.commands.outcome import CommandAnswer, ErasureAnswer, ReleaseAllAnswer
from service.rules import commands as cmd

Scope = Literal["submit", "request", "committee", "erasure"]
#: What a rule is given besides the state, the command and the context:
#: `member` the path's member; `target` the recorded event at the body's `target_position`;
#: `held` the states of the requests the member holds (each appended on its version);
#: `roster` the committee's stream version is the one the command is appended on (it
#: decides on who sits, or writes the committee's stream).
Need = Literal["member", "target", "held", "roster"]

SECRETARIAT = frozenset({"secretariat"})
#: The pattern of each path parameter of a command's path.
PATH_PARAMETERS: Mapping[str, str] = {"id": r"[A-Z0-9][A-Z0-9-]{2,39}", "member": r"[A-Z]{3}"}


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: `POST path` with a `body`, decided by `rule`."""

    #: the operation's name (its OpenAPI `operationId` stem, kept from the routes that
    #: came before this table so that generated clients keep their method names)
    name: str
    path: str
    body: type[cmd.Command]
    summary: str
    scope: Scope
    #: `(state, command, context, **needs)` for a request, `(roster, command, context,
    #: **needs)` for the committee, `(state, command, context, request_id=)` for a
    #: submission; None for an erasure
    rule: Callable[..., list[Change]] | None
    needs: frozenset[Need] = frozenset()
    roles: frozenset[str] = SECRETARIAT
    status_code: int = 200
    answer: type[BaseModel] = CommandAnswer
    #: the answer's body from the events' (what the answer adds to `CommandAnswer`)
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @property
    def parameters(self) -> tuple[str, ...]:
        """The path's parameters, in order (`id`, `member`)."""
        return tuple(name for name in PATH_PARAMETERS if f"{{{name}}}" in self.path)


def _release_all(
    roster: Roster,
    command: cmd.ReleaseAll,
    context: rules.Context,
    *,
    member: str,
    held: Sequence[RequestState],
) -> list[Change]:
    return rules.release_all_holds(command, context, member=member, held=held)


def _released(body: dict[str, Any]) -> dict[str, Any]:
    """`released`: the requests whose hold was released."""
    streams = {event["stream_id"] for event in body["events"]}
    return {"released": sorted(s.removeprefix(REQUEST_STREAM_PREFIX) for s in streams), **body}


def _request_command(
    suffix: str,
    body: type[cmd.Command],
    rule: Callable[..., list[Change]],
    summary: str,
    *needs: Need,
    name: str | None = None,
    roles: frozenset[str] = SECRETARIAT,
) -> CommandSpec:
    return CommandSpec(
        name=name or f"command_{body.__name__}",
        path=f"/v1/requests/{{id}}/{suffix}",
        body=body,
        summary=summary,
        scope="request",
        rule=rule,
        needs=frozenset(needs),
        roles=roles,
    )


#: Every command, in the order of the OpenAPI document.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "submit_request",
        "/v1/requests",
        cmd.SubmitRequest,
        "Submit a request (RequestSubmitted)",
        "submit",
        rules.submit,
        status_code=201,
    ),
    _request_command(
        "circulate",
        cmd.Circulate,
        rules.circulate,
        "Circulate under the no-objection procedure",
    ),
    _request_command(
        "holds", cmd.PlaceHold, rules.place_hold, "Place a hold (HoldPlaced)", "roster"
    ),
    _request_command(
        "information-requests",
        cmd.RequestInformation,
        rules.request_information,
        "Ask the applicant for information",
        "roster",
    ),
    _request_command("reviews", cmd.RecordReview, rules.record_review, "Record a review step"),
    _request_command("decision", cmd.Decide, rules.decide, "Approve or refuse the open procedure"),
    _request_command(
        "extensions",
        cmd.RequestExtension,
        rules.request_extension,
        "Open an extension procedure",
    ),
    _request_command(
        "amendments",
        cmd.RequestAmendment,
        rules.request_amendment,
        "Open an amendment procedure",
    ),
    _request_command("withdraw", cmd.Withdraw, rules.withdraw, "Withdraw the request"),
    _request_command("shipments", cmd.RecordShipment, rules.record_shipment, "Record a shipment"),
    _request_command(
        "annotations", cmd.Annotate, rules.annotate, "Annotate an entry of the log", "target"
    ),
    _request_command(
        "retractions", cmd.Retract, rules.retract, "Retract an entry of the log", "target"
    ),
    _request_command(
        "holds/{member}/release",
        cmd.ReleaseHold,
        rules.release_hold,
        "Release a member's hold (HoldReleased)",
        "member",
        name="release_hold",
    ),
    _request_command(
        "information-responses",
        cmd.ProvideInformation,
        rules.provide_information,
        "Answer an information request (secretariat, or the applicant for its own)",
        name="provide_information",
        roles=frozenset({"secretariat", "applicant"}),
    ),
    CommandSpec(
        "release_all",
        "/v1/members/{member}/release-all",
        cmd.ReleaseAll,
        "Release every hold a member has, atomically",
        "committee",
        _release_all,
        frozenset({"member", "held"}),
        answer=ReleaseAllAnswer,
        finish=_released,
    ),
    CommandSpec(
        "seat_member",
        "/v1/committee/members",
        cmd.SeatMember,
        "Seat a member (MemberSeated)",
        "committee",
        rules.seat_member,
        frozenset({"roster"}),
        status_code=201,
    ),
    CommandSpec(
        "depart_member",
        "/v1/committee/members/{member}/depart",
        cmd.DepartMember,
        "A member leaves (MemberDeparted, and HoldLapsed in every request it holds)",
        "committee",
        rules.depart_member,
        frozenset({"member", "held", "roster"}),
    ),
    CommandSpec(
        "erase",
        "/v1/erasures",
        Erase,
        "Erase the sealed values of events (ErasureRecorded; SPEC §4 Erasure)",
        "erasure",
        None,
        answer=ErasureAnswer,
    ),
)

# an applicant is told of its own requests only (`service.api.applicants`)
assert all(spec.scope == "request" for spec in COMMANDS if spec.roles != SECRETARIAT)

#: Each command by the type of its body (one body type, one command).
BY_BODY: Mapping[type[cmd.Command], CommandSpec] = {spec.body: spec for spec in COMMANDS}
assert len(BY_BODY) == len(COMMANDS), "two commands share a body type"


def spec_of(command: cmd.Command) -> CommandSpec:
    """The command whose body `command` is."""
    spec = BY_BODY.get(type(command))
    if spec is None:
        raise TypeError(f"not a command's body: {type(command).__name__}")
    return spec
