"""C2SP `tlog-proof@v1`: an offline proof that an entry is in a log (SPEC §6.2).

The text is lines separated by newlines:

    c2sp.org/tlog-proof@v1
    extra <base64>            (optional, unauthenticated)
    index <zero-based index, decimal>
    <base64 hash>             (zero or more: the RFC 6962 inclusion proof, leaf's sibling first)

    <the checkpoint, verbatim: a signed note with its cosignatures>

A receipt's proved events each carry one whose entry is the JCS bytes of the event's
disclosed form (`events.disclosure`), so the leaf is `SHA-256(0x00 || entry)` and any
tlog-proof verifier with the log's policy checks it without Docket.

Pure. `parse_tlog_proof` raises only `TlogProofError` (numbers over 20 digits included).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from events.errors import TlogProofError
from events.numbers import parse_decimal

__all__ = [
    "TLOG_PROOF_HEADER",
    "TlogProof",
    "TlogProofError",
    "format_tlog_proof",
    "parse_tlog_proof",
]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_HASH = 32
#: An inclusion proof in a tree of fewer than 2^64 leaves has at most 64 hashes.
_MAX_PROOF = 64


@dataclass(frozen=True, slots=True)
class TlogProof:
    """An entry's index, its inclusion proof and the checkpoint note it is proved against;
    `extra`, opaque and unauthenticated, when given."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


def format_tlog_proof(
    index: int, proof: Sequence[bytes], checkpoint: str, extra: bytes | None = None
) -> str:
    """The tlog-proof text of entry `index` with its `proof` against `checkpoint`."""
    if index < 0 or any(len(h) != _HASH for h in proof) or not checkpoint.endswith("\n"):
        raise TlogProofError("an index of 0 or more, 32-byte hashes and a whole checkpoint note")
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append(f"extra {base64.b64encode(extra).decode()}")
    lines.append(f"index {index}")
    lines += [base64.b64encode(h).decode() for h in proof]
    return "\n".join(lines) + "\n\n" + checkpoint


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise TlogProofError(f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode() != text:
        raise TlogProofError(f"{what} is not canonical base64")
    return raw


def parse_tlog_proof(text: str) -> TlogProof:
    """The parts of a tlog-proof text; the checkpoint is returned as is, unverified."""
    head, blank, checkpoint = text.partition("\n\n")
    if not blank or not checkpoint:
        raise TlogProofError("a tlog-proof is its lines, an empty line, then the checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise TlogProofError(f"a tlog-proof's first line is {TLOG_PROOF_HEADER!r}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _b64(rest[0][len("extra ") :], "the extra data")
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        raise TlogProofError("a tlog-proof has an 'index' line after its header")
    index = parse_decimal(rest[0][len("index ") :], "the index", TlogProofError)
    hashes = rest[1:]
    if len(hashes) > _MAX_PROOF:
        raise TlogProofError(f"an inclusion proof has at most {_MAX_PROOF} hashes")
    proof = []
    for number, line in enumerate(hashes, start=1):
        digest = _b64(line, f"proof hash {number}")
        if len(digest) != _HASH:
            raise TlogProofError(f"proof hash {number} is not {_HASH} bytes")
        proof.append(digest)
    return TlogProof(index, tuple(proof), checkpoint, extra)
