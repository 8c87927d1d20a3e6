"""The `add-checkpoint` request of C2SP tlog-witness, parsed and judged (pure).

The body is `old <size>`, up to 63 base64 consistency proof lines, an empty line, and the
signed checkpoint note. Each refusal carries the status the spec gives it: 400 malformed,
403 no trusted signature, 404 unknown origin, 409 (with the latest size) old size or root
mismatch, 422 a consistency proof that does not verify.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    parse_checkpoint,
    verify_checkpoint,
)
from events.errors import DocketError
from events.merkle import EMPTY_ROOT, ProofError, verify_consistency
from events.numbers import parse_decimal

__all__ = [
    "MAX_PROOF_LINES",
    "Latest",
    "Refusal",
    "SizeConflict",
    "Submission",
    "check_submission",
    "parse_submission",
    "verify_submitted_checkpoint",
]

MAX_PROOF_LINES = 63
_HASH_SIZE = 32


class Refusal(DocketError):
    """The witness refuses the submission: an HTTP status, a rule name and a reason."""

    rule: str  # always named: the witness's problems are all rule refusals

    def __init__(self, status: int, rule: str, detail: str) -> None:
        super().__init__(detail, rule=rule, status=status)


class SizeConflict(Refusal):
    """409: the old size (or the root at that size) is not the latest the witness cosigned."""

    def __init__(self, latest_size: int, detail: str) -> None:
        super().__init__(409, "witness.old-size-mismatch", detail)
        self.latest_size = latest_size


@dataclass(frozen=True, slots=True)
class Submission:
    """An `add-checkpoint` body: the old size, the consistency proof, the checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


@dataclass(frozen=True, slots=True)
class Latest:
    """The latest checkpoint a witness cosigned for an origin."""

    size: int
    root: bytes


def _malformed(detail: str) -> Refusal:
    return Refusal(400, "witness.malformed-request", detail)


def parse_submission(body: bytes) -> Submission:
    """Read an `add-checkpoint` body; `Refusal` 400 if it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("the request body is not UTF-8") from None
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise _malformed("the body is an old size line, proof lines, an empty line, a checkpoint")
    old_line, *proof_lines = head.split("\n")
    if not old_line.startswith("old "):
        raise _malformed("the first line must be 'old <size>' in decimal without leading zeros")
    old_size = parse_decimal(old_line[4:], "the old size", _malformed)
    if len(proof_lines) > MAX_PROOF_LINES:
        raise _malformed(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for number, line in enumerate(proof_lines, start=1):
        try:
            digest = base64.b64decode(line, validate=True)
        except ValueError:
            raise _malformed(f"proof line {number} is not base64") from None
        if len(digest) != _HASH_SIZE or base64.b64encode(digest).decode() != line:
            raise _malformed(f"proof line {number} is not one base64 SHA-256 hash")
        proof.append(digest)
    return Submission(old_size, tuple(proof), note)


def verify_submitted_checkpoint(
    submission: Submission, trusted: Mapping[str, Sequence[VerifierKey | str]]
) -> Checkpoint:
    """The submitted checkpoint, if its origin is known and a trusted key signed it.

    `trusted` maps each origin to the vkeys the witness trusts for it. Signatures by other
    keys are ignored (signed-note).
    """
    try:
        unverified = parse_checkpoint(submission.note)
    except CheckpointError as error:
        raise _malformed(f"not a signed checkpoint: {error}") from None
    keys = trusted.get(unverified.origin)
    if not keys:
        raise Refusal(404, "witness.unknown-origin", f"no log {unverified.origin!r} is known here")
    reasons = []
    for key in keys:
        try:
            return verify_checkpoint(submission.note, key if isinstance(key, str) else key.text())
        except CheckpointError as error:
            reasons.append(str(error))
    raise Refusal(403, "witness.bad-signature", "; ".join(reasons))


def check_submission(submission: Submission, checkpoint: Checkpoint, latest: Latest | None) -> None:
    """Judge a verified checkpoint against the latest cosigned one (None: never cosigned).

    Raises `Refusal` (400, 409, 422); returns when the witness may cosign.
    """
    old = submission.old_size
    if old > checkpoint.size:
        raise _malformed(f"old size {old} is larger than the checkpoint's {checkpoint.size}")
    known = latest or Latest(0, EMPTY_ROOT)
    if old != known.size:
        raise SizeConflict(
            known.size, f"old size {old} is not {known.size}, the latest size cosigned here"
        )
    if old == checkpoint.size:
        if checkpoint.root != known.root:
            raise SizeConflict(
                known.size, f"a different root for size {old}, the latest size cosigned here"
            )
        if submission.proof:
            raise Refusal(422, "witness.bad-proof", "a proof between equal sizes must be empty")
        return
    if old == 0:
        if submission.proof:
            raise Refusal(422, "witness.bad-proof", "the proof from size 0 must be empty")
        return
    try:
        verify_consistency(old, checkpoint.size, known.root, checkpoint.root, submission.proof)
    except ProofError as error:
        raise Refusal(422, "witness.bad-proof", f"consistency proof: {error}") from None
