"""Building a receipt (SPEC §6.2) from the disclosed forms of proved events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from events.disclosure import DISCLOSED_FIELDS
from events.tlog_proof import format_tlog_proof

__all__ = ["ProvedEvent", "Witness", "build_receipt"]


@dataclass(frozen=True, slots=True)
class Witness:
    """A witness as the receipt names it: its name and its vkey text."""

    name: str
    key: str


@dataclass(frozen=True, slots=True)
class ProvedEvent:
    """An event's disclosed form and its inclusion proof in the checkpoint's tree."""

    disclosed: Mapping[str, Any]
    proof: Sequence[bytes]


def build_receipt(
    *,
    request_id: str,
    origin: str,
    log_key: str,
    witnesses: Sequence[Witness],
    quorum: int,
    checkpoint: str,
    statement: str,
    proved: Sequence[ProvedEvent],
    pending: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The receipt of SPEC §6.2. Each event's `leaf_index` is its position - 1, and its
    `tlog_proof` the same proof as a C2SP tlog-proof@v1 text (entry: the JCS bytes of its
    disclosed form) against `checkpoint`; `statement` is the log's signed statement of the
    proved events' positions (`events.statement.sign_statement`)."""
    events = []
    for event in proved:
        body = _disclosed_only(event.disclosed)
        body["leaf_index"] = body["position"] - 1
        body["inclusion_proof"] = [digest.hex() for digest in event.proof]
        body["tlog_proof"] = format_tlog_proof(body["leaf_index"], event.proof, checkpoint)
        events.append(body)
    return {
        "request_id": request_id,
        "log": {"origin": origin, "key": log_key},
        "witnesses": [{"name": w.name, "key": w.key} for w in witnesses],
        "quorum": quorum,
        "checkpoint": checkpoint,
        "statement": statement,
        "events": events,
        "pending": [_disclosed_only(event) for event in pending],
    }


def _disclosed_only(event: Mapping[str, Any]) -> dict[str, Any]:
    # A receipt holds the disclosed form and nothing else: never metadata, salt or the
    # sealed fields an event given whole would carry.
    if set(event) != set(DISCLOSED_FIELDS):
        raise ValueError(f"not a disclosed form: members {sorted(event)}")
    return {name: event[name] for name in DISCLOSED_FIELDS}
