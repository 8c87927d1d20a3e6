"""The running service's side of witnessing: each signed checkpoint to every witness.

`Cosigning.run_forever()` is one of the service's background tasks (`bootstrap.workers`).
The checkpoint writer wakes it (`wake`) when it signs; it then submits the newest
checkpoint to every witness that has not cosigned it (`events.witnessing.WitnessPublisher`:
each with the consistency proof from the size that witness last cosigned, resynchronised
on a 409), keeps the verified cosignatures (`events.published.CosignatureLog`, append-only)
and records each witness's state for `/metrics`. While the newest checkpoint is short of
its quorum it is submitted again every `retry_seconds`, so publication resumes by itself
when witnesses come back; it also polls that often for checkpoints signed elsewhere (the
`docket checkpoint` command, another process).

One process per database submits: the submitter holds the backend's session lock on
`WITNESSING_LOCK_KEY` (an advisory lock on PostgreSQL; SQLite has none, one process
writes there), and in the other API processes it stands by and tries the lock again every
`retry_seconds`, so witnesses are not sent the same checkpoint once per process and one
takes over when the submitter stops.

Nothing here is on a command's path: a round waits at most `timeout` for a witness, in a
task of its own, and each cosignature is kept as it arrives, so a witness that is down,
slow or answers garbage delays publication only while the others are short of the quorum
(SPEC §4, R10).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog

from events.cosignature import Cosignature, CosignatureError, parse_signature_lines
from events.log_tree import LogTree, StoredCheckpoint
from events.published import CosignatureLog
from events.store.locks import NoLock, SessionLock
from events.witnessing import WitnessConfig, WitnessPublisher, WitnessStatus
from service.publishing.witness_metrics import record_witness_status

__all__ = ["WITNESSING_LOCK_KEY", "Cosigning"]

#: The advisory lock of the witnesses' submitter ("docket-w" in ASCII).
WITNESSING_LOCK_KEY = int.from_bytes(b"docket-w", "big")


def _signers(lines: Sequence[str]) -> set[str]:
    """The key names of the kept cosignature lines."""
    names: set[str] = set()
    for line in lines:
        with contextlib.suppress(CosignatureError):
            names.update(name for name, _, _ in parse_signature_lines(line.rstrip("\n") + "\n"))
    return names


class Cosigning:
    """Submits the newest signed checkpoint to the witnesses and keeps their cosignatures."""

    def __init__(
        self,
        tree: LogTree,
        cosignatures: CosignatureLog,
        witnesses: Sequence[WitnessConfig],
        quorum: int,
        *,
        timeout: float,
        retry_seconds: float,
        lock: SessionLock | None = None,
    ) -> None:
        self.tree = tree
        self.cosignatures = cosignatures
        self.witnesses = tuple(witnesses)
        self.quorum = quorum
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.names = {w.cosigner_key().name for w in self.witnesses}
        self._lock: SessionLock = NoLock() if lock is None else lock
        self._publisher: WitnessPublisher | None = None
        self._woken = asyncio.Event()
        #: The size of the checkpoint last submitted to every witness that had not cosigned.
        self._submitted = 0
        self._proofs: dict[tuple[int, int], asyncio.Future[tuple[bytes, bytes, list[bytes]]]] = {}

    def wake(self, _signed: StoredCheckpoint | None = None) -> None:
        """A checkpoint was signed: submit it now (the checkpoint writer's `on_signed`)."""
        self._woken.set()

    async def _proof(self, old: int, new: int) -> list[bytes]:
        # Witnesses that stand at the same size ask for the same proof: read it once.
        key = (old, new)
        if key not in self._proofs:
            self._proofs[key] = asyncio.ensure_future(self.tree.consistency(old, new))
            while len(self._proofs) > 16:
                del self._proofs[next(iter(self._proofs))]
        try:
            _, _, proof = await asyncio.shield(self._proofs[key])
        except Exception:
            self._proofs.pop(key, None)  # not kept: the next round reads it again
            raise
        return proof

    async def publisher(self) -> WitnessPublisher:
        """The publisher, built on first use from where each witness stands (its last
        cosigned size in the table), so that a restart needs no 409 round trip."""
        if self._publisher is None:
            known = await self.cosignatures.known_sizes()
            self._publisher = WitnessPublisher(
                self.witnesses, self._proof, timeout=self.timeout, known_sizes=known
            )
        return self._publisher

    def status(self) -> list[WitnessStatus]:
        """Each witness's state as this process knows it (empty before the first round)."""
        return [] if self._publisher is None else self._publisher.status()

    @property
    def active(self) -> bool:
        """Whether this process is the one that submits (it holds the lock)."""
        return self._lock.held

    async def _take_part(self) -> bool:
        """Whether this process submits this round: it holds the lock (still) or takes it."""
        lock = self._lock
        if lock.held and await lock.alive():
            return True
        if await lock.try_acquire():
            structlog.get_logger("docket.witnessing").info("docket.witnessing.submitting")
            # rebuilt from the table: another process may have submitted meanwhile
            publisher, self._publisher = self._publisher, None
            if publisher is not None:
                await publisher.aclose()
            return True
        return False

    async def run_once(self) -> int:
        """One round: submit the newest checkpoint to the witnesses that have not cosigned
        it, if it is new or still short of its quorum. How many cosignatures were added
        (none while another process submits)."""
        if not await self._take_part():
            return 0
        latest = await self.tree.latest_checkpoint()
        if latest is None:
            return 0
        done = _signers(await self.cosignatures.lines(latest.tree_size)) & self.names
        if latest.tree_size == self._submitted and len(done) >= self.quorum:
            return 0  # asked everyone once and published: nothing more to wait for
        if done >= self.names:
            self._submitted = latest.tree_size
            return 0
        publisher = await self.publisher()
        added = 0

        async def keep(cosignature: Cosignature) -> None:
            # kept as it arrives: a quorum reached early is published at once
            nonlocal added
            added += await self.cosignatures.add(latest.tree_size, [cosignature])

        received = await publisher.cosign(latest.note, skip=done, on_cosigned=keep)
        self._submitted = latest.tree_size
        total = len(done) + len(received)
        log = structlog.get_logger("docket.witnessing")
        if total >= self.quorum:
            log.info("docket.witnessing.cosigned", tree_size=latest.tree_size, cosignatures=total)
        else:
            log.warning(
                "docket.witnessing.short_of_quorum",
                tree_size=latest.tree_size,
                cosignatures=total,
                quorum=self.quorum,
                errors={s.name: s.last_error for s in publisher.status() if s.last_error},
            )
        return added

    async def run_forever(self) -> None:
        """Rounds until cancelled: at once when woken, else every `retry_seconds`. A failed
        round (the database away) is logged and tried again."""
        while True:
            self._woken.clear()
            try:
                await self.run_once()
            except Exception as error:
                failed = structlog.get_logger("docket.witnessing")
                failed.warning("docket.witnessing.failed", error=repr(error), exc_info=error)
            record_witness_status(self.status())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.retry_seconds)

    async def aclose(self) -> None:
        """Cancel submissions in flight, close the HTTP client and let another process
        submit (release the lock)."""
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            await publisher.aclose()
        await self._lock.release()
