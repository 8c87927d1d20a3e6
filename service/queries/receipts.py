"""The receipt of a public request (SPEC §6.2): its public events, proved against the
published checkpoint (`service.queries.publication.published_checkpoint`).

Which events: `projections.public.receipt_events` (the events the public record is made
of, SPEC §7), read from the log in their stored form and shown in their disclosed form
(`events.disclosure.disclosed_form`: clear fields and the `sealed` digest, never a
sealed value, a salt or metadata). Those the published checkpoint covers get their
RFC 9162 inclusion proof against its tree; the newer ones are `pending`, and the answer
says when to ask again (`retry_after`: the seconds until the next tick of the checkpoint
grid, SPEC §4, by the runtime's clock). The log key signs the receipt's statement: the
positions of the proved events, all the public events of the request up to the
checkpoint's size (`events.statement`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from events.checkpoint_grid import seconds_to_next_tick
from events.disclosure import disclosed_form
from events.receipt.build import ProvedEvent, Witness, build_receipt
from events.statement import Statement, sign_statement
from events.types import request_stream
from projections.public import receipt_events
from service.queries.publication import published_checkpoint
from service.runtime import Runtime

__all__ = ["Receipt", "request_receipt", "witness_policy"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt document and, when some of its events are pending, the seconds until the
    next tick of the checkpoint grid (when a checkpoint should cover them, witnesses
    permitting)."""

    body: dict[str, Any]
    retry_after: int | None


def witness_policy(runtime: Runtime) -> tuple[list[Witness], int]:
    """The witnesses whose cosignatures the published checkpoint carries (SPEC §8,
    `DOCKET_WITNESSES`), and the quorum in force (0 without witnesses: every checkpoint
    is published at once)."""
    settings = runtime.settings
    witnesses = [Witness(w.key.split("+", 1)[0], w.key) for w in settings.witnesses]
    return witnesses, settings.effective_witness_quorum


async def request_receipt(runtime: Runtime, request_id: str, view: Mapping[str, Any]) -> Receipt:
    """The receipt of a request the public may see (`view` is its state document)."""
    stored = await runtime.store.read_stream(request_stream(request_id), upcast=False)
    shown = [disclosed_form(event.hashed_fields()) for event in receipt_events(view, stored)]
    published = await published_checkpoint(runtime)
    size = published.size if published is not None else 0
    covered = [d for d in shown if d["position"] <= size]
    proved = []
    if covered:
        tree = runtime.tree
        if not await tree.covers(size):
            await tree.extend()
        for disclosed in covered:
            _, _, proof = await tree.inclusion(disclosed["position"] - 1, size)
            proved.append(ProvedEvent(disclosed, proof))
    pending = [d for d in shown if d["position"] > size]
    witnesses, quorum = witness_policy(runtime)
    origin = runtime.settings.log_origin
    statement = Statement(origin, request_id, size, tuple(d["position"] for d in covered))
    body = build_receipt(
        request_id=request_id,
        origin=origin,
        log_key=runtime.signer.verifier_key(),
        witnesses=witnesses,
        quorum=quorum,
        checkpoint=published.note if published is not None else "",
        statement=sign_statement(runtime.signer, statement),
        proved=proved,
        pending=pending,
    )
    retry_after = None
    if pending:
        interval = runtime.settings.checkpoint_interval_seconds
        retry_after = max(1, math.ceil(seconds_to_next_tick(runtime.clock(), interval)))
    return Receipt(body, retry_after)
