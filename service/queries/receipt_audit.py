"""`docket verify --receipt FILE` (SPEC §6.2, §8): a receipt's statement against the log.

Offline, a receipt's verifier checks that its proved events are exactly those its
statement names. Only someone with the log can check the statement itself: that it names
every event of the request the public may see up to its size. This reads the request's
stream, chooses its public events as the receipt would now (`projections.public.
receipt_events`: a retraction since only takes events out, never adds one), and names
each one up to the statement's size that the statement leaves out, with its disclosed
form and inclusion proof: evidence, signed by the log's own key, that the log hid it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events.disclosure import disclosed_form
from events.errors import StatementError
from events.statement import Statement, verify_statement
from events.types import request_stream
from projections.public import receipt_events
from service.runtime import Runtime

__all__ = ["StatementAudit", "audit_statement"]


@dataclass(frozen=True, slots=True)
class StatementAudit:
    """What the log holds against a receipt's statement: `missing` (each a disclosed form
    with its leaf index and inclusion proof at the statement's size) empty when the
    statement is complete; `problem` when the statement cannot be checked at all."""

    note: str
    statement: Statement | None = None
    missing: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None

    @property
    def exit_code(self) -> int:
        """0 complete, 1 not a statement of this log (nothing proved), 3 evidence."""
        if self.problem is not None:
            return 1
        return 3 if self.missing else 0


async def audit_statement(runtime: Runtime, receipt: Any) -> StatementAudit:
    """Check the statement a receipt carries against the log (see the module's doc)."""
    note = receipt.get("statement") if isinstance(receipt, Mapping) else None
    if not isinstance(note, str):
        return StatementAudit("", problem="the receipt carries no statement")
    try:
        statement = verify_statement(note, runtime.signer.verifier_key())
    except StatementError as error:
        return StatementAudit(note, problem=f"not a statement this log signed: {error}")
    if statement.origin != runtime.settings.log_origin:
        problem = f"the statement is of log {statement.origin!r}, not this one"
        return StatementAudit(note, statement, problem=problem)
    head, _ = await runtime.store.head()
    if statement.size > head:
        problem = f"the statement's size {statement.size:,} is beyond the log's {head:,} events"
        return StatementAudit(note, statement, problem=problem)
    await runtime.runner.catch_up()
    view = await runtime.public_source.get_state(statement.request_id)
    stored = await runtime.store.read_stream(request_stream(statement.request_id), upcast=False)
    public = receipt_events(view, stored) if view is not None else []
    named = set(statement.positions)
    left_out = [e for e in public if e.position <= statement.size and e.position not in named]
    missing = []
    if left_out:
        tree = runtime.tree
        if not await tree.covers(statement.size):
            await tree.extend()
        for event in left_out:
            shown = dict(disclosed_form(event.hashed_fields()))
            _, _, proof = await tree.inclusion(event.position - 1, statement.size)
            shown["leaf_index"] = event.position - 1
            shown["inclusion_proof"] = [digest.hex() for digest in proof]
            missing.append(shown)
    return StatementAudit(note, statement, missing)
