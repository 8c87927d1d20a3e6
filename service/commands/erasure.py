"""Erasure (SPEC §4 "Erasure without rewriting", §3 `ErasureRecorded`): the one command
that destroys sealed values. `docket erase` and `POST /v1/erasures` both come here.

The store records the `ErasureRecorded` event and, in the same transaction, replaces the
erased events' sealed values by `{"erased": true, "by": P}` and drops their salts
(`EventStore.erase`); its rules (each position in the log, not already erased) are checked
there, under the writers' lock, so that two erasures at once cannot both pass. Clear
fields are never touched: only `sealed_values` changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import Field, model_validator

from events.errors import ErasureRefused
from events.model import NewEvent, RecordedEvent
from events.types import (
    ERASURE_EVENT,
    ERASURE_STREAM,
    MAX_ERASED_POSITIONS,
    ErasureRecorded,
    Position,
    RequestId,
    ShortText,
    Text,
    request_stream,
)
from service.commands.outcome import Meta, Outcome, without_salt
from service.errors import Conflict, NotFound
from service.rules.commands import Command

if TYPE_CHECKING:  # the service runs an erasure through `erase` (its table names it)
    from service.commands.service import CommandService


class Erase(Command):
    """`POST /v1/erasures`: the events to erase, by position or as a whole request."""

    positions: (
        Annotated[list[Position], Field(min_length=1, max_length=MAX_ERASED_POSITIONS)] | None
    ) = None
    request_id: RequestId | None = None
    reason: Text
    decided_by: ShortText

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.positions is None) == (self.request_id is None):
            raise ValueError("give either positions or request_id")
        if self.positions is not None and len(set(self.positions)) != len(self.positions):
            raise ValueError("a position is named twice")
        return self


@dataclass(frozen=True, slots=True)
class Erased:
    """One erased event, as the answer and `docket erase` show it."""

    position: int
    stream_id: str
    event_type: str

    def body(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "stream_id": self.stream_id,
            "event_type": self.event_type,
        }


async def _request_positions(commands: CommandService, request_id: str) -> list[int]:
    """The positions of a request's events whose sealed values are still there."""
    stream = await commands.store.read_stream(request_stream(request_id), upcast=False)
    if not stream:
        raise NotFound(f"no request {request_id}")
    left = [event.position for event in stream if not event.erased]
    if not left:
        raise Conflict(
            f"every event of request {request_id} is already erased", rule="not_already_erased"
        )
    return left


async def erase(commands: CommandService, command: Erase, meta: Meta) -> Outcome:
    """Record the erasure and destroy the values, in one transaction; answer what was
    erased (`erased`: position, stream and type of each event)."""
    store = commands.store
    if meta.idempotency_key is not None:
        replayed = await store.get_by_event_ids(meta.event_ids(1))
        if replayed:
            return await _answer(commands, replayed[0])
    if command.positions is not None:
        positions = sorted(command.positions)
    else:
        assert command.request_id is not None
        positions = await _request_positions(commands, command.request_id)
    data = ErasureRecorded(
        positions=positions, reason=command.reason, decided_by=command.decided_by
    ).to_data()
    event = NewEvent(
        stream_id=ERASURE_STREAM,
        event_type=ERASURE_EVENT,
        data=data,
        occurred_at=command.occurred_at or commands.clock(),
        metadata=meta.metadata(),
        event_id=meta.event_ids(1)[0],
    )
    try:
        recorded = await store.erase(event)
    except ErasureRefused as refused:
        raise Conflict(str(refused), rule=refused.rule) from refused
    commands.on_append()
    return await _answer(commands, recorded)


async def _answer(commands: CommandService, recorded: RecordedEvent) -> Outcome:
    erased = await erased_events(commands, recorded.data["positions"])
    for item in erased:  # states folded before the erasure hold the values: fold again
        commands.kept.forget(item.stream_id)
    body = {
        "position": recorded.position,
        "stream_version": recorded.stream_version,
        "events": [without_salt(recorded.wire())],
        "erased": [item.body() for item in erased],
    }
    return Outcome(200, body, recorded.stream_version)


async def erased_events(commands: CommandService, positions: list[int]) -> list[Erased]:
    """Position, stream and type of each of `positions` (clear: the log's envelope)."""
    found = await commands.store.envelopes(positions)
    return [Erased(position, stream_id, event_type) for position, stream_id, event_type in found]
