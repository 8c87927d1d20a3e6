"""A receipt's statement (SPEC §6.2 "Complete, not just true"): the log's signed word on
which public events of a request it holds up to a tree size.

A receipt's inclusion proofs show that what it holds is in the log; they cannot show that
it holds everything. The statement commits the log to the whole list: a C2SP signed note
by the log key whose text is

    docket.receipt-statement/v1
    origin <the log's origin>
    request <the request id>
    size <the tree size of the receipt's checkpoint>
    positions <p1> <p2> ...

the positions (ascending, space-separated; the line is `positions` alone when there are
none) of every event of the request that the public may see up to that size. The first
line is never a log origin (`events.checkpoints` refuses it as one), so a statement can
never be taken for a checkpoint, nor a checkpoint for a statement.

Pure: no I/O. The parser raises only `StatementError` (numbers over 20 digits included).
"""

from __future__ import annotations

from dataclasses import dataclass

from events.checkpoints import STATEMENT_HEADER, Signer, split_note, verify_note_text
from events.errors import CheckpointError, StatementError
from events.numbers import parse_decimal

__all__ = [
    "STATEMENT_HEADER",
    "Statement",
    "StatementError",
    "parse_statement",
    "sign_statement",
    "statement_text",
    "verify_statement",
]

#: More positions than any request's public record holds; bounds a hostile statement.
_MAX_POSITIONS = 100_000


@dataclass(frozen=True, slots=True)
class Statement:
    """What a statement says: of log `origin`, request `request_id`, the public events up
    to tree size `size` are at `positions` and nowhere else."""

    origin: str
    request_id: str
    size: int
    positions: tuple[int, ...]


def statement_text(statement: Statement) -> str:
    """The note text the log signs."""
    positions = " ".join(str(p) for p in statement.positions)
    lines = [
        STATEMENT_HEADER,
        f"origin {statement.origin}",
        f"request {statement.request_id}",
        f"size {statement.size}",
        f"positions {positions}".rstrip(" "),
    ]
    return "".join(line + "\n" for line in lines)


def sign_statement(signer: Signer, statement: Statement) -> str:
    """The statement as a note signed by the log key (`signer`, named by the origin)."""
    if sorted(set(statement.positions)) != list(statement.positions):
        raise StatementError("a statement's positions are distinct and ascending")
    if any(p < 1 or p > statement.size for p in statement.positions):
        raise StatementError(f"a statement's positions lie within its size {statement.size}")
    return signer.sign_note(statement_text(statement))


def _value(line: str, label: str) -> str:
    if line == label:
        return ""
    if not line.startswith(label + " "):
        raise StatementError(f"the statement has no {label!r} line where expected")
    return line[len(label) + 1 :]


def parse_statement(text: str) -> Statement:
    """The statement in a note's text (no signature checked). Raises `StatementError`."""
    if not text.endswith("\n"):
        raise StatementError("a statement's text ends in a newline")
    lines = text[:-1].split("\n")
    if lines[0] != STATEMENT_HEADER:
        raise StatementError(f"a statement's first line is {STATEMENT_HEADER!r}")
    if len(lines) != 5:
        raise StatementError("a statement has five lines: header, origin, request, size, positions")
    origin = _value(lines[1], "origin")
    request_id = _value(lines[2], "request")
    if not origin or not request_id or " " in origin or " " in request_id:
        raise StatementError("a statement names one origin and one request, without spaces")
    size = parse_decimal(_value(lines[3], "size"), "the statement's size", StatementError)
    words = _value(lines[4], "positions")
    items = words.split(" ") if words else []
    if len(items) > _MAX_POSITIONS:
        raise StatementError(f"a statement lists at most {_MAX_POSITIONS:,} positions")
    positions = tuple(parse_decimal(w, "a statement's position", StatementError) for w in items)
    if list(positions) != sorted(set(positions)) or any(not 1 <= p <= size for p in positions):
        raise StatementError(f"the positions are not distinct, ascending and within size {size}")
    return Statement(origin, request_id, size, positions)


def verify_statement(note: str, log_key: str) -> Statement:
    """The statement in `note` if the log key (a vkey) signed it. Raises `StatementError`."""
    try:
        text, _ = split_note(note)
    except CheckpointError as error:
        raise StatementError(f"the statement is not a signed note: {error}") from None
    statement = parse_statement(text)
    try:
        verify_note_text(note, log_key)
    except CheckpointError as error:
        raise StatementError(f"the statement's signature: {error}") from None
    return statement
