"""`docket monitor`: follow a Docket's published checkpoint and catch a rollback or a fork.

Each check fetches `<URL>/public/log/checkpoint`, verifies the log's signature, checks the
checkpoint against the last one seen (kept in the state file) and then a quorum of witness
cosignatures: a smaller tree is a rollback, another root at the same size is a fork, and a
larger tree must come with a consistency proof from the last one, taken from
`<URL>/public/log/proofs/consistency?from=&to=` or recomputed from the C2SP tlog-tiles at
`<URL>/public/log/tile/...`. The log's own signature is what makes evidence: a checkpoint
the log key signed that rolls back, forks from or does not extend the one held is evidence
whether or not it has its quorum, and so is one the log key signed that does not parse.
Evidence (both checkpoints) is printed, appended to `<state>.evidence.jsonl`, posted to the
webhook, and ends the command with exit status 3.

A check that cannot be made (the service unreachable, an answer over 1 MiB or slower than
`--timeout`, a redirect to another origin, a malformed proof, no signature by the log key,
no quorum) is not evidence: exit status 1, or in `--follow` a report and another try;
after `--alarm-after` such checks in a row an alarm is printed and posted to the webhook
(kind `cannot-check`, once a streak), since a log that never lets itself be checked hides
whatever it does. Every answer is read through `events.bounded_http`: at most 1 MiB (a
tile at most its 8 KiB), within `--timeout` seconds in all, redirects followed only to the
same origin (scheme, host and port), three at most.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx

from events.bounded_http import BoundedAnswer, PeerAnswerError, bounded_request
from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint,
    parse_verifier_key,
    signed_by,
)
from events.cosignature import CosignatureError, CosignerKey, verify_witnessed
from events.errors import DocketError
from events.merkle import ProofError, consistency_proof, nodes_needed_for_consistency
from events.merkle import verify_consistency as verify_consistency_proof
from events.proof_answers import parse_consistency_answer
from events.tiles import TileError, TileHashes, tiles_for_nodes
from events.tlog_policy import Policy

__all__ = [
    "ANSWER_LIMIT",
    "EXIT_EVIDENCE",
    "Evidence",
    "MonitorError",
    "MonitorSettings",
    "Observation",
    "Via",
    "check_once",
    "evidence_file",
    "keep_evidence",
    "parse_proof_answer",
    "read_state",
    "write_state",
]

EXIT_EVIDENCE = 3
Via = Literal["proofs", "tiles"]

#: SPEC §8: what the monitor reads from the network is bounded, 1 MiB an answer.
ANSWER_LIMIT = 1024 * 1024
_TILE_LIMIT = 256 * 32  # a full tile of hashes: anything larger is not a tile
_REDIRECTS = 3  # followed only to the same origin


class MonitorError(DocketError):
    """The check could not be made; nothing is proved either way."""


class Evidence(DocketError):
    """The log showed two views that cannot both be true: both checkpoints are the proof."""

    def __init__(self, kind: str, reason: str, previous: str | None, current: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.previous = previous
        self.current = current

    def document(self, url: str) -> dict[str, str | None]:
        """What is posted to the webhook and kept in the evidence file."""
        return {
            "kind": self.kind,
            "reason": self.reason,
            "log": url,
            "previous_checkpoint": self.previous,
            "current_checkpoint": self.current,
            "detected_at": datetime.now(UTC).isoformat(),
        }


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """What to follow and how to judge it."""

    url: str
    log_key: str
    witness_keys: tuple[CosignerKey, ...]
    quorum: int
    state: Path
    via: Via = "proofs"
    #: Seconds one answer may take in all (connecting, headers and the whole body).
    timeout: float = 30.0
    #: A C2SP tlog-policy whose quorum rule decides in place of `quorum` (`--policy`).
    policy: Policy | None = None
    #: Witnesses' monitoring prefixes (`--witness-url`): each one's own latest cosigned
    #: checkpoint of the log is read and must be consistent with what the log shows.
    witness_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Observation:
    """One successful check: the checkpoint seen and the size it was checked against."""

    checkpoint: Checkpoint
    cosignatures: int
    previous_size: int | None


def read_state(path: Path) -> str | None:
    """The last checkpoint note seen, or None on a first run."""
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise MonitorError(f"state file {path} is unreadable: {error}") from None
    note = state.get("checkpoint") if isinstance(state, dict) else None
    if not isinstance(note, str):
        raise MonitorError(f"state file {path} holds no checkpoint")
    return note


def write_state(path: Path, url: str, note: str) -> None:
    """Replace the state file in one step (a crash leaves the old or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"log": url, "checkpoint": note, "seen_at": datetime.now(UTC).isoformat()}
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".monitor-state-")
    try:
        with os.fdopen(descriptor, "w") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def evidence_file(state: Path) -> Path:
    """Where evidence is kept, one JSON document a line, beside the state file."""
    return state.with_name(state.name + ".evidence.jsonl")


def keep_evidence(state: Path, document: dict[str, str | None]) -> None:
    """Append `document` to the evidence file and sync it: kept even if the webhook fails."""
    path = evidence_file(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(document) + "\n")
        out.flush()
        os.fsync(out.fileno())


async def _get(
    http: httpx.AsyncClient,
    url: str,
    within: float,
    limit: int = ANSWER_LIMIT,
    **params: int,
) -> BoundedAnswer:
    try:
        answer = await bounded_request(
            http, "GET", url, limit=limit, within=within, redirects=_REDIRECTS, params=params
        )
    except PeerAnswerError as error:
        raise MonitorError(f"GET {url}: {error}") from None
    if answer.status_code != 200:
        raise MonitorError(f"GET {answer.url}: HTTP {answer.status_code}")
    return answer


def parse_proof_answer(content: bytes, old: Checkpoint, new: Checkpoint) -> list[bytes]:
    """The hashes of a `/public/log/proofs/consistency` answer for `old` -> `new`
    (`events.proof_answers`). Raises `MonitorError` for anything else: a malformed
    answer proves nothing either way.
    """
    try:
        body = json.loads(content)
    except (ValueError, RecursionError) as error:  # a 5,000-digit number is a ValueError
        raise MonitorError(f"the consistency proof answer is not JSON: {error}"[:300]) from None
    try:
        return parse_consistency_answer(body, old.size, new.size)
    except ProofError as error:
        raise MonitorError(f"the consistency proof answer: {error}"[:300]) from None


async def _proof_from_api(
    http: httpx.AsyncClient, base: str, old: Checkpoint, new: Checkpoint, within: float
) -> list[bytes]:
    answer = await _get(
        http,
        f"{base}/public/log/proofs/consistency",
        within,
        **{"from": old.size, "to": new.size},
    )
    return parse_proof_answer(answer.content, old, new)


async def _proof_from_tiles(
    http: httpx.AsyncClient, base: str, old: Checkpoint, new: Checkpoint, within: float
) -> list[bytes]:
    tiles = tiles_for_nodes(nodes_needed_for_consistency(old.size, new.size), new.size)
    fetched = await asyncio.gather(
        *(_get(http, f"{base}/public/log/{t.path()}", within, _TILE_LIMIT) for t in tiles)
    )
    try:
        reader = TileHashes(new.size, {t: a.content for t, a in zip(tiles, fetched, strict=True)})
        return consistency_proof(old.size, new.size, reader.hash_at)
    except (TileError, KeyError) as error:
        raise MonitorError(f"a tile is malformed: {error}") from None


def _previous(settings: MonitorSettings) -> tuple[str, Checkpoint] | None:
    note = read_state(settings.state)
    if note is None:
        return None
    try:
        return note, parse_checkpoint(note)
    except ValueError as error:
        raise MonitorError(f"state file {settings.state} holds no checkpoint: {error}") from None


async def check_once(http: httpx.AsyncClient, settings: MonitorSettings) -> Observation:
    """Check the published checkpoint; store it if it extends the last one seen.

    Raises `Evidence` (rollback, fork, bad proof, a log-signed note that does not parse)
    or `MonitorError`.
    """
    base = settings.url.rstrip("/")
    answer = await _get(http, f"{base}/public/log/checkpoint", settings.timeout)
    try:
        note = answer.content.decode("utf-8")
    except UnicodeDecodeError:
        raise MonitorError("the published checkpoint is not UTF-8 text") from None
    key = parse_verifier_key(settings.log_key)
    if not signed_by(note, key):
        raise MonitorError(
            "the published checkpoint does not verify: no valid signature by "
            f"{key.name}+{key.key_id.hex()}"
        )
    held = _previous(settings)
    previous_note = None if held is None else held[0]
    try:
        checkpoint = parse_checkpoint(note)
    except ValueError as error:  # CheckpointError, or a number past int()'s digit limit
        raise Evidence(
            "unparseable",
            f"the log key signed a checkpoint that does not parse: {error}"[:300],
            previous_note,
            note,
        ) from None
    if held is not None:
        # Before the quorum: the log's signature on an inconsistent view is evidence
        # whatever the witnesses did (SPEC §8).
        await _check_consistent(http, base, settings, held, checkpoint, note)
    await _compare_with_witnesses(http, base, settings, checkpoint, note)
    try:
        _, cosignatures = verify_witnessed(
            note, settings.log_key, settings.witness_keys, settings.quorum
        )
    except (CheckpointError, CosignatureError) as error:
        raise MonitorError(f"the published checkpoint does not verify: {error}") from None
    policy = settings.policy
    if policy is not None:
        names = {policy.witness_named(c.witness, c.key_id) for c in cosignatures}
        if not policy.satisfied(name for name in names if name is not None):
            raise MonitorError(
                f"the published checkpoint does not verify: its {len(cosignatures)} valid "
                "cosignatures do not meet the policy's quorum"
            )
    if held is None or checkpoint.size > held[1].size:
        write_state(settings.state, settings.url, note)
    return Observation(checkpoint, len(cosignatures), None if held is None else held[1].size)


async def _compare_with_witnesses(
    http: httpx.AsyncClient,
    base: str,
    settings: MonitorSettings,
    checkpoint: Checkpoint,
    note: str,
) -> None:
    """What each witness saw (C2SP tlog-witness monitor retrieval, `GET <prefix>/<sha256
    (origin) hex>/checkpoint`) against what the log shows this monitor: both signed by the
    log key, they must be consistent, the smaller one extended by the larger. A log that
    shows the monitor one tree and the witnesses another is caught on the first run."""
    key = parse_verifier_key(settings.log_key)
    origin_hash = hashlib.sha256(checkpoint.origin.encode()).hexdigest()
    for prefix in settings.witness_urls:
        url = f"{prefix.rstrip('/')}/{origin_hash}/checkpoint"
        answer = await _get(http, url, settings.timeout)
        try:
            seen = answer.content.decode("utf-8")
        except UnicodeDecodeError:
            raise MonitorError(f"GET {url}: the witness's checkpoint is not UTF-8 text") from None
        if not signed_by(seen, key):
            raise MonitorError(f"GET {url}: the witness's checkpoint is not signed by the log")
        try:
            theirs = parse_checkpoint(seen)
        except ValueError as error:
            raise Evidence(
                "unparseable",
                f"the log key signed a checkpoint a witness holds that does not parse: {error}"[
                    :300
                ],
                note,
                seen,
            ) from None
        if theirs.size <= checkpoint.size:
            await _check_consistent(http, base, settings, (seen, theirs), checkpoint, note)
        else:
            await _check_consistent(http, base, settings, (note, checkpoint), theirs, seen)


async def _check_consistent(
    http: httpx.AsyncClient,
    base: str,
    settings: MonitorSettings,
    held: tuple[str, Checkpoint],
    checkpoint: Checkpoint,
    note: str,
) -> None:
    previous_note, previous = held
    if checkpoint.size < previous.size:
        raise Evidence(
            "rollback",
            f"the log now publishes size {checkpoint.size} after size {previous.size}",
            previous_note,
            note,
        )
    if checkpoint.size == previous.size:
        if checkpoint.root != previous.root:
            raise Evidence(
                "fork", f"two roots signed for size {checkpoint.size}", previous_note, note
            )
        return
    fetch = _proof_from_tiles if settings.via == "tiles" else _proof_from_api
    try:
        proof = await fetch(http, base, previous, checkpoint, settings.timeout)
        verify_consistency_proof(
            previous.size, checkpoint.size, previous.root, checkpoint.root, proof
        )
    except ProofError as error:
        raise Evidence(
            "bad-proof",
            f"size {checkpoint.size} is not shown to extend size {previous.size} "
            f"({settings.via}): {error}",
            previous_note,
            note,
        ) from None
