"""The witness: judge a submission, store it atomically, cosign it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import structlog

from events.checkpoints import VerifierKey, parse_verifier_key, split_note
from events.cosignature import Cosigner
from service.witness.protocol import (
    Latest,
    Refusal,
    SizeConflict,
    check_submission,
    parse_submission,
    verify_submitted_checkpoint,
)
from service.witness.storage import WitnessStore

__all__ = ["Witness", "trusted_logs"]

log = structlog.get_logger("docket.witness")


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

    async def add_checkpoint(self, body: bytes) -> str:
        """The cosignature lines for the submitted checkpoint; raises `Refusal`."""
        submission = parse_submission(body)
        checkpoint = verify_submitted_checkpoint(submission, self.trusted)
        latest = await self.store.latest(checkpoint.origin)
        try:
            check_submission(submission, checkpoint, latest)
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
        new = Latest(checkpoint.size, checkpoint.root)
        if not await self.store.compare_and_set(checkpoint.origin, latest, new, submission.note):
            # Another submission was stored between the check and the store: answer as if
            # it had come first.
            current = await self.store.latest(checkpoint.origin)
            size = current.size if current else 0
            raise SizeConflict(size, f"old size {submission.old_size} is no longer the latest")
        text, _ = split_note(submission.note)
        line = self.cosigner.cosign(text, int(self._clock()))
        log.info("docket.witness.cosigned", origin=checkpoint.origin, size=checkpoint.size)
        return line
