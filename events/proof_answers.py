"""The JSON answers of the log's proof endpoints, read by a client (SPEC §4, §8).

`/public/log/proofs/inclusion` answers `{position, leaf_index, tree_size, leaf_hash, root,
proof}` and `/public/log/proofs/consistency` `{from, to, root_from, root_to, proof}`, hashes
in lowercase hex. Each reader checks the answer is for what was asked and returns the
proof hashes, refusing anything else with `ProofError` only: an integer written with more
than 20 digits, a bool for a number, a hash that is not 64 lowercase hex digits, a proof
longer than a tree can be deep (SPEC §11 R14). Verifying the proof is
`events.merkle.verify_*`'s work. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from events.errors import ProofError
from events.numbers import MAX_DIGITS, too_many_digits

__all__ = ["MAX_PROOF_HASHES", "parse_consistency_answer", "parse_inclusion_answer"]

#: An RFC 9162 proof in a tree of fewer than 2^64 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


def _number(body: dict[str, Any], member: str) -> int:
    value = body.get(member)
    if type(value) is not int:  # a bool is an int to isinstance, not to a proof
        raise ProofError(f"{member!r} is not an integer")
    if too_many_digits(value):
        raise ProofError(f"{member!r} has more than {MAX_DIGITS} digits")
    return value


def _hash(body: dict[str, Any], member: str) -> bytes:
    value = body.get(member)
    if not isinstance(value, str) or not _HEX_HASH.fullmatch(value):
        raise ProofError(f"{member!r} is not a SHA-256 hash in 64 lowercase hex digits")
    return bytes.fromhex(value)


def _hashes(body: dict[str, Any]) -> list[bytes]:
    value = body.get("proof")
    if not isinstance(value, list) or len(value) > MAX_PROOF_HASHES:
        raise ProofError(f"'proof' is not a list of at most {MAX_PROOF_HASHES} hashes")
    out = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, str) or not _HEX_HASH.fullmatch(item):
            raise ProofError(f"proof hash {number} is not 64 lowercase hex digits")
        out.append(bytes.fromhex(item))
    return out


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProofError(f"the answer is a JSON {type(body).__name__}, not an object")
    return body


def parse_consistency_answer(body: Any, old_size: int, new_size: int) -> list[bytes]:
    """The hashes of a consistency proof answer for `old_size` -> `new_size`."""
    answer = _object(body)
    asked = (old_size, new_size)
    answered = (_number(answer, "from"), _number(answer, "to"))
    if answered != asked:
        raise ProofError(f"the proof answered is for {answered[0]} -> {answered[1]}, not {asked}")
    _hash(answer, "root_from")
    _hash(answer, "root_to")
    return _hashes(answer)


def parse_inclusion_answer(body: Any, position: int, tree_size: int) -> tuple[bytes, list[bytes]]:
    """The leaf hash and proof hashes of an inclusion proof answer for `position` in the
    tree of `tree_size`."""
    answer = _object(body)
    answered = (
        _number(answer, "position"),
        _number(answer, "leaf_index"),
        _number(answer, "tree_size"),
    )
    if answered != (position, position - 1, tree_size):
        raise ProofError(
            f"the proof answered is for position {answered[0]} (leaf {answered[1]}) in a tree "
            f"of {answered[2]}, not position {position} in {tree_size}"
        )
    _hash(answer, "root")
    return _hash(answer, "leaf_hash"), _hashes(answer)
