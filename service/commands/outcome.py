"""What a command carries in besides its body (`Meta`) and what it answers (`Outcome`):
the answer's body built from the recorded events, and its documented shapes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from events.model import RecordedEvent
from events.types import COMMITTEE_STREAM, REQUEST_STREAM_PREFIX, request_stream
from service.platform.tokens import Caller

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1d1e-5b0e-4c8e-9a59-0d0c6b2f7e11")


@dataclass(frozen=True, slots=True)
class Meta:
    """What the HTTP request adds to a command: who, which correlation, retry key, If-Match."""

    caller: Caller
    correlation_id: str
    idempotency_key: str | None = None
    if_match: int | None = None

    def event_ids(self, count: int) -> list[uuid.UUID]:
        if self.idempotency_key is None:
            return [uuid.uuid4() for _ in range(count)]
        return [
            uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{self.caller.token_id}:{self.idempotency_key}:{i}")
            for i in range(count)
        ]

    def metadata(self) -> dict[str, Any]:
        return {
            "actor": self.caller.actor(),
            "correlation_id": self.correlation_id,
            "causation_id": self.correlation_id,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """A command's answer: the status code and the body every 2xx answer carries."""

    status_code: int
    body: dict[str, Any]
    stream_version: int | None


class CommandAnswer(BaseModel):
    """Every 2xx answer of a command."""

    request_id: str | None = None
    position: int | None
    stream_version: int | None
    events: list[dict[str, Any]]


class ReleaseAllAnswer(CommandAnswer):
    released: list[str]


class ErasureAnswer(CommandAnswer):
    """`POST /v1/erasures`: the `ErasureRecorded` event, and what it erased."""

    erased: list[dict[str, Any]]


def answer(recorded: Sequence[RecordedEvent], status_code: int, request_id: str | None) -> Outcome:
    """The answer of a command that recorded `recorded` (first time or replayed): its
    `stream_version` is the request's when it names one."""
    stream = request_stream(request_id) if request_id else None
    if stream and recorded and all(e.stream_id != stream for e in recorded):
        # an earlier copy (same Idempotency-Key) of a submission without an id was
        # given another id: its events are the answer, under its id
        stream = recorded[0].stream_id
        request_id = stream.removeprefix(REQUEST_STREAM_PREFIX)
    mine = [e for e in recorded if e.stream_id == stream] if stream else list(recorded)
    version = mine[-1].stream_version if mine else None
    body: dict[str, Any] = {
        "position": recorded[-1].position if recorded else None,
        "stream_version": version,
        # The salt stays in the log (and /v1/events): the caller has no use for it.
        "events": [without_salt(e.wire()) for e in recorded],
    }
    if request_id is not None:
        body = {"request_id": request_id, **body}
    return Outcome(status_code, body, version)


def committee_answer(recorded: Sequence[RecordedEvent], status_code: int) -> Outcome:
    """The answer to a committee command, first time or replayed: `stream_version` is
    the committee stream's when the command wrote to it."""
    outcome = answer(recorded, status_code, None)
    committee_events = [e for e in recorded if e.stream_id == COMMITTEE_STREAM]
    if committee_events:
        outcome.body["stream_version"] = committee_events[-1].stream_version
    return outcome


def without_salt(wire: dict[str, Any]) -> dict[str, Any]:
    """A recorded event's wire form without its salt."""
    del wire["salt"]
    return wire
