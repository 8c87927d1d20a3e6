"""Receipts (SPEC §6.2): building one from proved events, and verifying one offline.

A receipt holds the disclosed forms of a request's public events (SPEC §4), each with
its leaf index and its RFC 9162 inclusion proof against the tree of a checkpoint the log
signed and its witnesses cosigned, and the events that checkpoint does not cover yet
(`pending`). Verifying needs no network and no database: the verifier's own trust in
the log key, the witness keys and the quorum (never the keys the receipt names).

A receipt also carries the log's signed `statement` (`events.statement`): the positions
of every public event of the request up to the checkpoint's size. The proved events must
be exactly those: a receipt with an event left out (an amendment, say) is refused, not
shown as the record without it. `pending` events are shown as not yet verified, never as
proven (`ReceiptCheck.exit_code`: 0 all shown proved, 2 some pending, 1 a failure).

`verify_receipt` answers a `ReceiptCheck` naming every failure: which event (position,
stream version) and which check (`receipt`, `log key`, `witness key`, `origin`,
`checkpoint signature`, `statement`, `quorum`, `stream`, `leaf index`, `sealed field`,
`leaf`, `tlog-proof`, `inclusion proof`, `pending`).

Cosignatures are C2SP `tlog-cosignature`: `cosignature/v1` (Ed25519, key type 0x04) or
ML-DSA-44 (key type 0x06, `events.mldsa`); the log key may be either kind too. The
check is a parameter (`cosigners`) so that the witness module's verifier can replace
`verify_cosignatures` here, which implements the minimum a receipt needs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    parse_verifier_key,
    verify_checkpoint,
)
from events.disclosure import DISCLOSED_FIELDS, clear_fields, disclosed_leaf_hash
from events.errors import ReceiptError, StatementError
from events.merkle import ProofError, verify_inclusion
from events.mldsa import ML_DSA_44, mldsa_key_id, public_key_from, verify_blob
from events.numbers import MAX_DIGITS, too_many_digits
from events.statement import Statement, verify_statement
from events.tlog_policy import Policy
from events.tlog_proof import TlogProofError, format_tlog_proof, parse_tlog_proof

__all__ = [
    "Cosigned",
    "Cosigners",
    "Failure",
    "ProvedEvent",
    "ReceiptCheck",
    "ReceiptError",
    "Witness",
    "WitnessKey",
    "build_receipt",
    "checkpoint_line",
    "distinct_witnesses",
    "parse_witness_key",
    "summary",
    "verify_cosignatures",
    "verify_receipt",
    "witness_key_id",
]

COSIGNATURE_V1 = 0x04
_SIGNATURE_PREFIX = "\u2014 "
_PROOF_FIELDS = ("leaf_index", "inclusion_proof", "tlog_proof")
_MAX_PROOF = 64
#: How deep a receipt's JSON may nest: its own shape needs 4 levels, an event's data a few
#: more; a deeper one would only spend a canonicaliser's recursion.
_MAX_DEPTH = 32


# --- building ------------------------------------------------------------------------


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


# --- cosignatures ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WitnessKey:
    """A witness's verifier key: Ed25519 cosignature/v1 (0x04) or ML-DSA-44 (0x06)."""

    name: str
    key_id: bytes
    public_key: bytes
    text: str
    kind: int = COSIGNATURE_V1


@dataclass(frozen=True, slots=True)
class Cosigned:
    """A valid cosignature: which witness, and when it cosigned (its timestamp)."""

    name: str
    key: str
    timestamp: int


#: `(note, witness vkeys) -> the valid cosignatures, one per witness`.
Cosigners = Callable[[str, Sequence[str]], Sequence[Cosigned]]


def witness_key_id(name: str, public_key: bytes) -> bytes:
    """`SHA-256(name || 0x0A || 0x04 || key)[:4]` (C2SP tlog-cosignature)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key).digest()[:4]


def parse_witness_key(text: str) -> WitnessKey:
    """Read `<name>+<hex key id>+<base64(0x04 || key)>` (or `0x06 || key`, ML-DSA-44),
    checking the key id.

    Raises `ReceiptError` (a `ValueError`)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise ReceiptError(f"a witness key is <name>+<hex key id>+<base64 key>: {text[:200]!r}")
    name, hex_id, encoded = parts
    if any(ch.isspace() for ch in name) or not name.isprintable():
        raise ReceiptError(f"witness key name {name[:80]!r} holds spaces or unprintable characters")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise ReceiptError(f"witness key {name!r}: its key id is not 8 lowercase hex digits")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise ReceiptError(f"witness key {name!r} is not base64") from None
    if raw[:1] == bytes([ML_DSA_44]):
        public_key_from(raw[1:], ReceiptError)
        if mldsa_key_id(name, raw[1:]) != bytes.fromhex(hex_id):
            raise ReceiptError(f"witness key {name!r}: its key id does not match its name and key")
        return WitnessKey(name, bytes.fromhex(hex_id), raw[1:], text.strip(), ML_DSA_44)
    if len(raw) != 33 or raw[0] != COSIGNATURE_V1:
        raise ReceiptError(f"witness key {name!r} is not a cosignature/v1 (0x04) Ed25519 key")
    key_id = bytes.fromhex(hex_id)
    if witness_key_id(name, raw[1:]) != key_id:
        raise ReceiptError(f"witness key {name!r}: its key id does not match its name and key")
    return WitnessKey(name, key_id, raw[1:], text.strip())


def distinct_witnesses(witness_keys: Sequence[str]) -> int:
    """How many different public keys `witness_keys` name: one key is one witness, under
    however many names or spellings. Raises `ReceiptError` if one is unusable."""
    return len({_identity(parse_witness_key(text)) for text in witness_keys})


def _identity(key: WitnessKey) -> bytes:
    return bytes([key.kind]) + key.public_key


def _note_parts(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The signed text, and each signature line's (name, decoded blob)."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise ReceiptError("a signed note is text, a blank line, then signature lines")
    lines = []
    for line in note[cut + 2 : -1].split("\n"):
        if not line.startswith(_SIGNATURE_PREFIX):
            raise ReceiptError(f"not a signature line: {line[:80]!r}")
        name, _, encoded = line[len(_SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            lines.append((name, base64.b64decode(encoded, validate=True)))
        except ValueError:  # binascii.Error, or a non-ASCII character
            continue  # not ours to judge: only lines matching a trusted key count
    return note[: cut + 1], lines


def verify_cosignatures(note: str, witness_keys: Sequence[str]) -> list[Cosigned]:
    """The valid `cosignature/v1` lines of `note` by the given witnesses, one per witness.

    A cosignature signs `cosignature/v1\\ntime <timestamp>\\n` followed by the note's
    text; its blob is key id (4) || timestamp (8, big-endian) || Ed25519 signature (64).
    Lines by other keys are ignored; a witness with several valid lines counts once, and
    so does a public key given under several names (the signed message does not name the
    witness, so a line copied under a second name verifies as well)."""
    text, lines = _note_parts(note)
    found: list[Cosigned] = []
    seen: set[bytes] = set()
    for key_text in witness_keys:
        key = parse_witness_key(key_text)
        if _identity(key) in seen:
            continue  # one key, one vote: whatever name it is given under
        if key.kind == ML_DSA_44:
            cosigned = _mldsa_cosigned(note, key, lines)
            if cosigned is not None:
                found.append(cosigned)
                seen.add(_identity(key))
            continue
        verifier = Ed25519PublicKey.from_public_bytes(key.public_key)
        for name, blob in lines:
            if name != key.name or len(blob) != 76 or blob[:4] != key.key_id:
                continue
            timestamp = int.from_bytes(blob[4:12], "big")
            try:
                message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
            except UnicodeEncodeError:  # a lone surrogate: not a note anyone signed
                raise ReceiptError("the checkpoint note is not valid Unicode") from None
            try:
                verifier.verify(blob[12:], message)
            except InvalidSignature:
                continue
            found.append(Cosigned(key.name, key.text, timestamp))
            seen.add(_identity(key))
            break
    return found


def _mldsa_cosigned(note: str, key: WitnessKey, lines: list[tuple[str, bytes]]) -> Cosigned | None:
    """`key`'s first valid ML-DSA-44 cosignature among `lines`, if any."""
    try:
        checkpoint = parse_checkpoint(note)
    except CheckpointError as error:
        raise ReceiptError(str(error)) from None
    public = public_key_from(key.public_key, ReceiptError)
    for name, blob in lines:
        if name != key.name or blob[:4] != key.key_id:
            continue
        try:
            timestamp = verify_blob(
                public,
                key.name,
                blob[4:],
                checkpoint.origin,
                checkpoint.size,
                checkpoint.root,
                ReceiptError,
            )
        except ReceiptError:
            continue
        return Cosigned(key.name, key.text, timestamp)
    return None


# --- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """One check that failed; `position`/`stream_version` name the event, if one."""

    check: str
    detail: str
    position: int | None = None
    stream_version: int | None = None

    def text(self) -> str:
        where = ""
        if self.position is not None:
            where = f"event at position {self.position}"
            if self.stream_version is not None:
                where += f" (stream version {self.stream_version})"
            where += ": "
        return f"{self.check}: {where}{self.detail}"


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """What `verify_receipt` found; `ok` when nothing failed."""

    failures: tuple[Failure, ...]
    request_id: str | None = None
    checkpoint: Checkpoint | None = None
    events: tuple[Mapping[str, Any], ...] = ()
    pending: tuple[Mapping[str, Any], ...] = ()
    cosigned: tuple[Cosigned, ...] = ()
    witnesses: int = 0
    quorum: int = 0
    statement: Statement | None = None

    @property
    def ok(self) -> bool:
        """Nothing failed (pending events may still be shown: see `complete`)."""
        return not self.failures

    @property
    def complete(self) -> bool:
        """Nothing failed and every event shown is proved (none pending)."""
        return self.ok and not self.pending

    @property
    def exit_code(self) -> int:
        """SPEC §8: 0 every event shown is proved, 2 some are pending, 1 anything failed."""
        if not self.ok:
            return 1
        return 2 if self.pending else 0

    @property
    def cosigned_at(self) -> datetime | None:
        """The latest time a witness vouched for the checkpoint, if one did."""
        if not self.cosigned:
            return None
        return datetime.fromtimestamp(max(c.timestamp for c in self.cosigned), UTC)


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


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
                f"the receipt says {_shown(log.get('origin'))}",
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
    failures += _event_failures(receipt, request_id, checkpoint)
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
    shown = [_int(e.get("position")) for e in receipt["events"]]
    named = set(statement.positions)
    for left_out in sorted(named - {p for p in shown if p is not None}):
        detail = (
            f"the log's statement names an event of the request here (its public events up "
            f"to size {statement.size:,} are at {list(statement.positions)}); the receipt "
            "leaves it out, so it does not show the whole record"
        )
        failures.append(Failure("statement", detail, left_out))
    for event in receipt["events"]:
        position, version = _int(event.get("position")), _int(event.get("stream_version"))
        if position is not None and position not in named:
            detail = "shown as proved, yet the log's statement does not name it"
            failures.append(Failure("statement", detail, position, version))
    if len(shown) != len(set(shown)):
        failures.append(Failure("statement", "the receipt shows an event twice"))
    return statement, failures


def _shown(value: Any) -> str:
    """A value of the receipt in a message: a string quoted (and cut), else its JSON type."""
    if isinstance(value, str):
        return repr(value[:200])
    return "nothing" if value is None else f"a JSON {type(value).__name__}, not a string"


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


def _event_failures(
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
        position = _int(event.get("position"))
        if position is not None and position <= checkpoint.size:
            failures.append(
                Failure(
                    "pending",
                    f"the checkpoint covers it (size {checkpoint.size}) yet it has no proof",
                    position,
                    _int(event.get("stream_version")),
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
    position, version = _int(event.get("position")), _int(event.get("stream_version"))
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
    position, version = _int(event.get("position")), _int(event.get("stream_version"))
    index = _int(event.get("leaf_index"))
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
    position, version = _int(event.get("position")), _int(event.get("stream_version"))
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
                f"it is of stream {_shown(event['stream_id'])}, not {stream!r}",
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


# --- in words ------------------------------------------------------------------------------


def _what(event: Mapping[str, Any]) -> str:
    """An event in the words of a letter's reader."""
    found = event.get("data")
    data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    kind = event.get("event_type")
    if kind == "ExemptionApproved":
        return (
            f"the approval (letter {data.get('letter_ref')}, valid {data.get('valid_from')} "
            f"to {data.get('valid_until')})"
        )
    if kind == "ExtensionGranted":
        return f"the extension of validity to {data.get('valid_until')}"
    if kind == "AmendmentApproved":
        return "the approved amendment of the items"
    if kind == "ShipmentRecorded":
        return f"shipment {data.get('shipment_no')} of {data.get('shipped_on')}"
    if kind == "RequestSubmitted":
        who = data.get("applicant")
        applicant: Mapping[str, Any] = who if isinstance(who, Mapping) else {}
        return f"the request \u201c{data.get('title')}\u201d of {applicant.get('name')}"
    return _WORDS.get(str(kind), f"a {kind} entry")


_WORDS = {
    "RequestCirculated": "its circulation to the committee",
    "ExtensionRequested": "a request to extend the validity",
    "AmendmentRequested": "a request to amend the items",
    "ExemptionRefused": "a refusal",
    "ExtensionRefused": "a refused extension",
    "AmendmentRefused": "a refused amendment",
    "RequestWithdrawn": "its withdrawal",
    "EntryAnnotated": "an annotation of an earlier entry",
    "EventRetracted": "the retraction of an earlier entry",
}


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment.strftime('%b %Y')}"


def checkpoint_line(check: ReceiptCheck) -> str:
    """The checkpoint's tree size and the newest witness's time, always said (SPEC §6.2):
    an old receipt is seen to be old, even one no witness cosigned."""
    if check.checkpoint is None:
        return "Checkpoint: none readable."
    when = check.cosigned_at
    at = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "no witness time"
    return (
        f"Checkpoint: log {check.checkpoint.origin}, tree size {check.checkpoint.size:,}; "
        f"newest witness cosignature: {at}."
    )


def summary(check: ReceiptCheck) -> str:
    """The outcome for a bank clerk: what is proven, under which checkpoint, what is not
    yet verified; or what failed. Its first word is VERIFIED, NOT YET VERIFIED (some
    events pending) or NOT VERIFIED."""
    if not check.ok:
        lines = [f"NOT VERIFIED: the receipt of {check.request_id or 'an unknown request'} failed"]
        lines += [f"  - {failure.text()}" for failure in check.failures]
        lines.append(checkpoint_line(check))
        return "\n".join(lines)
    assert check.checkpoint is not None
    main = next(
        (e for e in reversed(check.events) if e.get("event_type") == "ExemptionApproved"),
        check.events[-1] if check.events else None,
    )
    when = check.cosigned_at
    under = f"checkpoint of {_day(when)}" if when else "checkpoint"
    under += f" (log {check.checkpoint.origin}, {check.checkpoint.size:,} entries)"
    if check.witnesses:
        under += f" cosigned by {len(check.cosigned)} of {check.witnesses} witnesses"
        under += f" ({check.quorum} required)"
    else:
        under += ", signed by the committee's log key (no witness asked for)"
    lines = []
    if check.pending:
        lines.append(
            f"NOT YET VERIFIED: {len(check.pending)} event(s) of request {check.request_id} "
            "shown in this receipt are not proved; what follows as proven is, the rest is not."
        )
    if main is None:
        lines.append(f"VERIFIED: request {check.request_id}: no event proven yet; {under}.")
    else:
        lines.append(
            f"VERIFIED: {_what(main)} of request {check.request_id} is in the committee's "
            f"signed log at position {main.get('position')}; {under}."
        )
    others = [e for e in check.events if e is not main]
    if others:
        lines.append("Also proven in the same log:")
        lines += [f"  - position {e.get('position')}: {_what(e)}" for e in others]
    lines.append(
        f"The log's signed statement says these {len(check.events)} are all the request's "
        f"public events up to its entry {check.checkpoint.size:,}."
    )
    if check.pending:
        lines.append(
            "NOT YET VERIFIED (no published checkpoint covers them; anyone could have added "
            "them to the file; fetch the receipt again later to have them proven):"
        )
        lines += [f"  - position {e.get('position')}: {_what(e)}" for e in check.pending]
    lines.append(checkpoint_line(check))
    return "\n".join(lines)
