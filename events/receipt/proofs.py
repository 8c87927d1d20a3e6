"""Each event a receipt shows, against the checkpoint: its disclosed form (its stream, no
sealed field), its leaf index and inclusion proof in the checkpoint's tree, and its
tlog-proof, the same proof in its C2SP spelling; and each pending event, which the
checkpoint must not cover."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from events.checkpoints import Checkpoint
from events.disclosure import DISCLOSED_FIELDS, clear_fields, disclosed_leaf_hash
from events.merkle import ProofError, verify_inclusion
from events.receipt.check import Failure, as_int, shown
from events.tlog_proof import TlogProofError, parse_tlog_proof

__all__ = ["event_failures"]

_PROOF_FIELDS = ("leaf_index", "inclusion_proof", "tlog_proof")
_MAX_PROOF = 64


def event_failures(
    receipt: Mapping[str, Any], request_id: str, checkpoint: Checkpoint
) -> list[Failure]:
    failures: list[Failure] = []
    stream = f"request-{request_id}"
    for event in receipt["events"]:
        failures += _disclosed_failures(event, stream, proved=True)
        failure = _proof_failure(event, checkpoint, receipt["checkpoint"])
        if failure is not None:
            failures.append(failure)
    for event in receipt["pending"]:
        failures += _disclosed_failures(event, stream, proved=False)
        position = as_int(event.get("position"))
        if position is not None and position <= checkpoint.size:
            failures.append(
                Failure(
                    "pending",
                    f"the checkpoint covers it (size {checkpoint.size}) yet it has no proof",
                    position,
                    as_int(event.get("stream_version")),
                )
            )
    return failures


def _note_text(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


def _tlog_proof_failure(
    event: Mapping[str, Any], index: int, proof: Sequence[bytes], checkpoint_note: str
) -> Failure | None:
    """The event's `tlog_proof` must say what its `leaf_index` and `inclusion_proof` say,
    against the receipt's checkpoint (the same signed text): one proof, in two spellings."""
    position, version = as_int(event.get("position")), as_int(event.get("stream_version"))
    text = event.get("tlog_proof")
    if not isinstance(text, str):
        return Failure("tlog-proof", "no tlog_proof text", position, version)
    try:
        parsed = parse_tlog_proof(text)
    except TlogProofError as error:
        return Failure("tlog-proof", str(error), position, version)
    if parsed.index != index or list(parsed.proof) != list(proof):
        detail = "its index or proof hashes differ from leaf_index and inclusion_proof"
        return Failure("tlog-proof", detail, position, version)
    # The same tree head; its signature lines may differ (each proof stands on its own).
    if _note_text(parsed.checkpoint) != _note_text(checkpoint_note):
        return Failure("tlog-proof", "its checkpoint is not the receipt's", position, version)
    return None


def _proof_failure(
    event: Mapping[str, Any], checkpoint: Checkpoint, checkpoint_note: str
) -> Failure | None:
    """Whether the event, as shown, is the leaf its proof puts in the checkpoint's tree."""
    position, version = as_int(event.get("position")), as_int(event.get("stream_version"))
    index = as_int(event.get("leaf_index"))
    if position is None or index is None:
        return Failure("leaf index", "position and leaf_index must be integers", position, version)
    if index != position - 1:
        detail = f"leaf_index {index} is not position - 1 ({position - 1})"
        return Failure("leaf index", detail, position, version)
    proof = _proof_hashes(event.get("inclusion_proof"))
    if proof is None:
        detail = "the proof is not a list of 32-byte lowercase hex hashes"
        return Failure("inclusion proof", detail, position, version)
    body = {k: v for k, v in event.items() if k not in _PROOF_FIELDS}
    try:
        leaf = disclosed_leaf_hash(body)
    except ValueError as error:  # rfc8785.CanonicalizationError is a ValueError
        return Failure("leaf", f"the event cannot be canonicalised: {error}", position, version)
    try:
        verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root)
    except ProofError as error:
        detail = (
            f"the event as shown (leaf {leaf.hex()}) is not in the signed tree of "
            f"{checkpoint.size} ({error}): a disclosed field or a proof hash differs from "
            "what the log holds"
        )
        return Failure("inclusion proof", detail, position, version)
    return _tlog_proof_failure(event, index, proof, checkpoint_note)


def _disclosed_failures(event: Mapping[str, Any], stream: str, *, proved: bool) -> list[Failure]:
    position, version = as_int(event.get("position")), as_int(event.get("stream_version"))
    members = set(event) - set(_PROOF_FIELDS) if proved else set(event)
    out = []
    if members != set(DISCLOSED_FIELDS):
        missing = sorted(set(DISCLOSED_FIELDS) - members)
        extra = sorted(members - set(DISCLOSED_FIELDS))
        out.append(
            Failure(
                "leaf",
                f"not a disclosed form (missing {missing}, extra {extra})",
                position,
                version,
            )
        )
        return out
    if event["stream_id"] != stream:
        out.append(
            Failure(
                "stream",
                f"it is of stream {shown(event['stream_id'])}, not {stream!r}",
                position,
                version,
            )
        )
    data, event_type, schema_version = event["data"], event["event_type"], event["schema_version"]
    if isinstance(data, Mapping) and isinstance(event_type, str) and type(schema_version) is int:
        sealed = sorted(set(data) - clear_fields(event_type, schema_version))
        if sealed:
            out.append(
                Failure(
                    "sealed field",
                    f"its data shows {sealed}, sealed for {event_type} v{schema_version}",
                    position,
                    version,
                )
            )
    else:
        out.append(
            Failure("leaf", "data, event_type or schema_version malformed", position, version)
        )
    return out


def _proof_hashes(value: Any) -> list[bytes] | None:
    if not isinstance(value, list) or len(value) > _MAX_PROOF:
        return None
    out = []
    for item in value:
        if not isinstance(item, str) or len(item) != 64:
            return None
        try:
            raw = bytes.fromhex(item)
        except ValueError:
            return None
        if raw.hex() != item:
            return None
        out.append(raw)
    return out
