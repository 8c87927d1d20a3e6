"""Verifying a receipt offline (SPEC §6.2) against the keys the verifier trusts.

`verify_receipt` answers a `ReceiptCheck` naming every failure: which event (position,
stream version) and which check (`receipt`, `log key`, `witness key`, `origin`,
`checkpoint signature`, `statement`, `quorum`, `stream`, `leaf index`, `sealed field`,
`leaf`, `tlog-proof`, `inclusion proof`, `pending`). Each event's own checks are in
`events.receipt.proofs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    parse_verifier_key,
    verify_checkpoint,
)
from events.errors import ReceiptError, StatementError
from events.numbers import MAX_DIGITS, too_many_digits
from events.receipt.check import Failure, ReceiptCheck, as_int, shown
from events.receipt.cosignatures import Cosigners, distinct_witnesses, verify_cosignatures
from events.receipt.proofs import event_failures
from events.statement import Statement, verify_statement
from events.tlog_policy import Policy

__all__ = ["verify_receipt"]

#: How deep a receipt's JSON may nest: its own shape needs 4 levels, an event's data a few
#: more; a deeper one would only spend a canonicaliser's recursion.
_MAX_DEPTH = 32


def verify_receipt(
    receipt: Any,
    log_key: str,
    witness_keys: Sequence[str] = (),
    quorum: int | None = None,
    *,
    cosigners: Cosigners = verify_cosignatures,
    policy: Policy | None = None,
) -> ReceiptCheck:
    """Check a receipt against the log key and witness keys the verifier trusts.

    `quorum` defaults to the number of witnesses given, a public key counting once however
    many names it is given under (as for `DOCKET_WITNESS_QUORUM`). With a C2SP tlog-policy
    (`policy`, whose witness vkeys are `witness_keys`), its quorum rule decides instead.
    Never raises: whatever the receipt holds, each fault is a `Failure`.
    """
    failures: list[Failure] = []
    if not isinstance(receipt, Mapping):
        return ReceiptCheck((Failure("receipt", "the receipt is not a JSON object"),))
    shape = _bounds_failures(receipt) or _shape_failures(receipt)
    if shape:
        return ReceiptCheck(tuple(shape))
    request_id = receipt["request_id"]
    note = receipt["checkpoint"]
    try:
        trusted = parse_verifier_key(log_key)
    except CheckpointError as error:
        return ReceiptCheck((Failure("log key", f"the log key given is unusable: {error}"),))
    try:
        witnesses = distinct_witnesses(witness_keys)
    except ReceiptError as error:
        detail = f"a witness key given is unusable: {error}"
        return ReceiptCheck((Failure("witness key", detail),), request_id)
    need = witnesses if quorum is None else quorum
    if policy is not None:
        need = policy.minimum()
    try:
        checkpoint = verify_checkpoint(note, log_key)
    except CheckpointError as error:
        failures.append(Failure("checkpoint signature", str(error)))
        try:
            checkpoint = parse_checkpoint(note)
        except CheckpointError:
            return ReceiptCheck(tuple(failures), request_id)
    log = receipt["log"]
    if checkpoint.origin != log.get("origin"):
        failures.append(
            Failure(
                "origin",
                f"the checkpoint is of log {checkpoint.origin!r}, "
                f"the receipt says {shown(log.get('origin'))}",
            )
        )
    if checkpoint.origin != trusted.name:
        failures.append(
            Failure(
                "origin",
                f"the checkpoint is of log {checkpoint.origin!r}, the key given is "
                f"{trusted.name!r}'s",
            )
        )
    if log.get("key") != trusted.text():
        failures.append(Failure("log key", "the receipt names another log key than the one given"))
    try:
        cosigned = tuple(cosigners(note, list(witness_keys)))
    except ValueError as error:
        failures.append(Failure("quorum", f"cosignatures could not be read: {error}"))
        cosigned = ()
    if policy is not None:
        by_text = {w.key.text: w.name for w in policy.witnesses}
        met = policy.satisfied(by_text.get(c.key, "") for c in cosigned)
    else:
        met = len(cosigned) >= need
    if not met:
        names = ", ".join(c.name for c in cosigned) or "none"
        failures.append(
            Failure(
                "quorum",
                f"{len(cosigned)} valid witness cosignatures ({names}), "
                + (f"{need} required" if policy is None else "the policy's quorum not met"),
            )
        )
    failures += event_failures(receipt, request_id, checkpoint)
    statement, wrong = _statement_failures(receipt, log_key, request_id, checkpoint)
    failures += wrong
    return ReceiptCheck(
        tuple(failures),
        request_id,
        checkpoint,
        tuple(receipt["events"]),
        tuple(receipt["pending"]),
        cosigned,
        witnesses,
        need,
        statement,
    )


def _statement_failures(
    receipt: Mapping[str, Any], log_key: str, request_id: str, checkpoint: Checkpoint
) -> tuple[Statement | None, list[Failure]]:
    """The statement, if the log signed it, and how the receipt differs from it: the
    proved events must be exactly the positions it names for this request, origin and
    checkpoint size (SPEC §6.2 "Complete, not just true")."""
    try:
        statement = verify_statement(receipt["statement"], log_key)
    except StatementError as error:
        return None, [Failure("statement", str(error))]
    failures = []
    if statement.origin != checkpoint.origin:
        failures.append(
            Failure("statement", f"it is of log {statement.origin!r}, not {checkpoint.origin!r}")
        )
    if statement.request_id != request_id:
        detail = f"it is of request {statement.request_id!r}, not {request_id!r}"
        failures.append(Failure("statement", detail))
    if statement.size != checkpoint.size:
        detail = (
            f"it lists the events up to size {statement.size:,}, the checkpoint is of "
            f"size {checkpoint.size:,}"
        )
        failures.append(Failure("statement", detail))
    shown = [as_int(e.get("position")) for e in receipt["events"]]
    named = set(statement.positions)
    for left_out in sorted(named - {p for p in shown if p is not None}):
        detail = (
            f"the log's statement names an event of the request here (its public events up "
            f"to size {statement.size:,} are at {list(statement.positions)}); the receipt "
            "leaves it out, so it does not show the whole record"
        )
        failures.append(Failure("statement", detail, left_out))
    for event in receipt["events"]:
        position, version = as_int(event.get("position")), as_int(event.get("stream_version"))
        if position is not None and position not in named:
            detail = "shown as proved, yet the log's statement does not name it"
            failures.append(Failure("statement", detail, position, version))
    if len(shown) != len(set(shown)):
        failures.append(Failure("statement", "the receipt shows an event twice"))
    return statement, failures


def _bounds_failures(receipt: Mapping[str, Any]) -> list[Failure]:
    """A receipt nesting deeper than `_MAX_DEPTH` or holding a number over 20 digits is
    refused before anything reads it (SPEC §11 R14): such numbers cannot be a position or
    a size, and Python will not even print one over 4,300 digits."""
    stack: list[tuple[Any, int]] = [(receipt, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return [Failure("receipt", f"it nests deeper than {_MAX_DEPTH} levels")]
        if isinstance(value, Mapping):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, int) and too_many_digits(value):
            return [Failure("receipt", f"it holds a number of more than {MAX_DIGITS} digits")]
    return []


def _shape_failures(receipt: Mapping[str, Any]) -> list[Failure]:
    problems = []
    if not isinstance(receipt.get("request_id"), str):
        problems.append("no request_id")
    if not isinstance(receipt.get("log"), Mapping):
        problems.append("no log {origin, key}")
    if not isinstance(receipt.get("checkpoint"), str):
        problems.append("no checkpoint note")
    if not isinstance(receipt.get("statement"), str):
        problems.append("no statement (the log's signed list of the request's public events)")
    for name in ("events", "pending"):
        entries = receipt.get(name)
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            problems.append(f"{name} is not a list of objects")
    return [Failure("receipt", problem) for problem in problems]
