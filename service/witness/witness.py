"""The witness: judge a submission, store it atomically, cosign it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence

import structlog

from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    parse_verifier_key,
    signature_lines,
    split_note,
)
from events.cosignature import Cosigner
from service.witness.protocol import (
    Latest,
    Refusal,
    SizeConflict,
    Submission,
    check_submission,
    parse_submission,
    verify_submitted_checkpoint,
)
from service.witness.storage import WitnessStore

__all__ = ["Witness", "trusted_logs"]

log = structlog.get_logger("docket.witness")


def _signer(line: str) -> tuple[str, bytes] | None:
    """The (name, key id) of a signature line, if it is one."""
    try:
        [(name, key_id, _)] = signature_lines([line.rstrip("\n")])
    except (CheckpointError, ValueError):
        return None
    return name, key_id


def trusted_logs(log_keys: Sequence[str]) -> dict[str, list[VerifierKey]]:
    """The log vkeys by origin (a Docket log's key name is its origin)."""
    trusted: dict[str, list[VerifierKey]] = {}
    for text in log_keys:
        key = parse_verifier_key(text)
        trusted.setdefault(key.name, []).append(key)
    return trusted


class Witness:
    """Cosigns checkpoints of the `trusted` logs that extend the latest one it cosigned."""

    def __init__(
        self,
        cosigner: Cosigner,
        trusted: Mapping[str, Sequence[VerifierKey]],
        store: WitnessStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self.trusted = trusted
        self.store = store
        self._clock = clock
        self._latest: dict[str, Latest | None] = {}

    async def add_checkpoint(self, body: bytes) -> str:
        """The cosignature lines for the submitted checkpoint; raises `Refusal`."""
        submission = parse_submission(body)
        checkpoint = verify_submitted_checkpoint(submission, self.trusted)
        try:
            await self._check_and_store(submission, checkpoint)
        except Refusal as refusal:
            # The log signed it, so a refused checkpoint may be evidence of misbehaviour.
            log.warning(
                "docket.witness.refused",
                origin=checkpoint.origin,
                size=checkpoint.size,
                old_size=submission.old_size,
                status=refusal.status,
                reason=refusal.detail,
                checkpoint=submission.note,
            )
            raise
        text, _ = split_note(submission.note)
        line = self.cosigner.cosign(text, int(self._clock()))
        log.info("docket.witness.cosigned", origin=checkpoint.origin, size=checkpoint.size)
        return line

    async def latest_cosigned(self, origin_hash: str) -> str | None:
        """The monitor retrieval (SPEC §8): the latest checkpoint cosigned for the log whose
        origin hashes (SHA-256, lowercase hex) to `origin_hash`, with the log's signature
        and this witness's cosignature, made now (it is still the largest consistent tree
        this witness has seen). None for a log it never cosigned."""
        for origin, keys in self.trusted.items():
            if hashlib.sha256(origin.encode()).hexdigest() != origin_hash:
                continue
            note = await self.store.latest_note(origin)
            if note is None:
                return None
            text, _ = split_note(note)
            ours = {(key.name, key.key_id) for key in keys}
            kept = [line for line in note[len(text) + 1 :].splitlines(keepends=True)
                    if _signer(line) in ours]  # fmt: skip
            return text + "\n" + "".join(kept) + self.cosigner.cosign(text, int(self._clock()))
        return None

    async def _check_and_store(self, submission: Submission, checkpoint: Checkpoint) -> None:
        """Judge against the latest cosigned checkpoint and store the new one, atomically.

        Only the compare-and-set decides. The state remembered from this process's last
        submission is tried first, which saves a read; if it is stale (another process of
        this witness moved on), the stored state is read and judged instead.
        """
        origin = checkpoint.origin
        new = Latest(checkpoint.size, checkpoint.root)
        if origin in self._latest and await self._store_if_valid(
            submission, checkpoint, self._latest[origin], new
        ):
            return
        latest = await self.store.latest(origin)
        self._latest[origin] = latest
        check_submission(submission, checkpoint, latest)
        if await self.store.compare_and_set(origin, latest, new, submission.note):
            self._latest[origin] = new
            return
        # Another submission was stored between the read and the store: it came first.
        current = await self.store.latest(origin)
        self._latest[origin] = current
        size = current.size if current else 0
        raise SizeConflict(size, f"old size {submission.old_size} is no longer the latest")

    async def _store_if_valid(
        self, submission: Submission, checkpoint: Checkpoint, latest: Latest | None, new: Latest
    ) -> bool:
        try:
            check_submission(submission, checkpoint, latest)
        except Refusal:
            return False
        if await self.store.compare_and_set(checkpoint.origin, latest, new, submission.note):
            self._latest[checkpoint.origin] = new
            return True
        return False
