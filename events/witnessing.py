"""The log's side of C2SP tlog-witness: submit each signed checkpoint to every witness.

`WitnessPublisher.cosign(note)` posts the checkpoint to every configured witness at once,
each with the consistency proof from the size that witness last cosigned (learnt from its
409 answers), verifies the cosignatures that come back, and returns them. It never takes
longer than its timeout: a witness that is down, slow or answers garbage only misses this
checkpoint, and its reason is kept in `status()` (for `/metrics` and the logs). The next
checkpoint is submitted to it again, so publication resumes by itself.

`published(...)` (pure) picks the checkpoint to serve: the newest with a quorum.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

import httpx

from events.bounded_http import BoundedAnswer, PeerAnswerError, bounded_request
from events.checkpoints import Checkpoint, CheckpointError, parse_checkpoint, split_note
from events.cosignature import (
    Cosignature,
    CosignatureError,
    CosignerKey,
    add_signature_lines,
    parse_cosigner_key,
    parse_signature_lines,
    valid_cosignatures,
)
from events.errors import LogError

__all__ = [
    "ConsistencyProof",
    "WitnessClient",
    "WitnessConfig",
    "WitnessError",
    "WitnessPublisher",
    "WitnessStatus",
    "WitnessedCheckpoint",
    "parse_witnesses",
    "published",
    "submission_body",
]

#: `consistency_proof(old_size, new_size)`: the RFC 9162 proof between two tree sizes.
ConsistencyProof = Callable[[int, int], Awaitable[Sequence[bytes]]]

_SIZE = re.compile(r"(0|[1-9][0-9]{0,19})\n?")  # a tree size: at most 20 digits
_RESYNCS = 3  # 409 answers followed per submission before giving up on this checkpoint
_MAX_ANSWER = 64 * 1024  # SPEC §4: a witness's answer is read only up to 64 KiB


class WitnessError(LogError):
    """A witness did not cosign: down, refused, or answered something unusable."""


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    """A witness: its submission prefix URL and its cosigner vkey (type 0x04)."""

    url: str
    key: str

    def cosigner_key(self) -> CosignerKey:
        return parse_cosigner_key(self.key)


def parse_witnesses(text: str) -> list[WitnessConfig]:
    """`DOCKET_WITNESSES`: a JSON list of `{"url": ..., "key": "<vkey>"}`; checks each key."""
    try:
        items = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as error:
        raise ValueError(f"DOCKET_WITNESSES is not JSON: {error}") from None
    if not isinstance(items, list):
        raise ValueError('DOCKET_WITNESSES is a JSON list of {"url": ..., "key": ...}')
    witnesses = []
    for number, item in enumerate(items, start=1):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("url"), str)
            and isinstance(item.get("key"), str)
        ):
            raise ValueError(f'witness {number} is not {{"url": ..., "key": ...}}')
        config = WitnessConfig(item["url"].rstrip("/"), item["key"])
        try:
            config.cosigner_key()
        except CosignatureError as error:
            raise ValueError(f"witness {number}: {error}") from None
        witnesses.append(config)
    return witnesses


def submission_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The `add-checkpoint` body: `old N`, one base64 hash a line, an empty line, the note."""
    lines = [f"old {old_size}", *(base64.b64encode(digest).decode() for digest in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode()


@dataclass(slots=True)
class WitnessStatus:
    """What the log knows of one witness, for `/metrics`."""

    name: str
    url: str
    #: The size the witness last cosigned for this log, as far as the log knows.
    last_cosigned_size: int | None = None
    last_cosigned_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None


class WitnessClient:
    """Submits checkpoints to one witness, following its 409 answers."""

    def __init__(
        self,
        config: WitnessConfig,
        http: httpx.AsyncClient,
        *,
        known_size: int | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.key = config.cosigner_key()
        self._http = http
        self.timeout = timeout
        self._clock = clock
        # Where the witness stands; 0 when unknown (the spec's way to ask is old 0).
        self._known_size = known_size or 0
        self._lock = asyncio.Lock()
        self.status = WitnessStatus(self.key.name, config.url, last_cosigned_size=known_size)

    def record_error(self, reason: str) -> None:
        self.status.last_error = reason
        self.status.last_error_at = self._clock()

    async def submit(
        self, note: str, checkpoint: Checkpoint, consistency_proof: ConsistencyProof
    ) -> Cosignature:
        """This witness's verified cosignature of `note`; raises `WitnessError`."""
        async with self._lock:
            try:
                cosignature = await self._submit(note, checkpoint, consistency_proof)
            except WitnessError as error:
                self.record_error(str(error))
                raise
            self.status.last_cosigned_size = checkpoint.size
            self.status.last_cosigned_at = self._clock()
            self.status.last_error = None
            return cosignature

    async def _submit(
        self, note: str, checkpoint: Checkpoint, consistency_proof: ConsistencyProof
    ) -> Cosignature:
        old = self._known_size
        for _ in range(_RESYNCS + 1):
            if old > checkpoint.size:
                raise WitnessError(
                    f"the witness has cosigned size {old}, beyond this checkpoint's "
                    f"{checkpoint.size}"
                )
            proof = (
                [] if old in (0, checkpoint.size) else await consistency_proof(old, checkpoint.size)
            )
            answer = await self._post(submission_body(old, proof, note))
            if answer.status_code == 409:
                latest = _latest_size(answer)
                if latest == old:
                    # Same size, yet refused: the witness holds another root at that size.
                    raise WitnessError(
                        f"the witness refuses size {checkpoint.size}: it cosigned another "
                        f"tree at size {old}"
                    )
                old = latest
                self._known_size = latest
                self.status.last_cosigned_size = latest
                continue
            if answer.status_code != 200:
                raise WitnessError(f"HTTP {answer.status_code}: {_detail(answer)}")
            cosignature = self._verify(note, answer)
            self._known_size = checkpoint.size
            return cosignature
        raise WitnessError(f"the witness moved {_RESYNCS} times while we resynchronised")

    async def _post(self, body: bytes) -> BoundedAnswer:
        # Streamed and cut at the bound: never the whole of a hostile witness's answer.
        try:
            return await bounded_request(
                self._http,
                "POST",
                self.config.url + "/add-checkpoint",
                limit=_MAX_ANSWER,
                within=self.timeout,
                content=body,
                headers={"content-type": "text/plain; charset=utf-8"},
            )
        except PeerAnswerError as error:
            raise WitnessError(str(error)) from None

    def _verify(self, note: str, answer: BoundedAnswer) -> Cosignature:
        text, _ = split_note(note)
        try:
            lines = parse_signature_lines(answer.content.decode("utf-8"))
        except (UnicodeDecodeError, CosignatureError) as error:
            raise WitnessError(f"the answer is not signature lines: {error}") from None
        valid, invalid = valid_cosignatures(text, lines, [self.key])
        if not valid:
            reason = "; ".join(invalid) or f"no line by {self.key.name}+{self.key.key_id.hex()}"
            raise WitnessError(f"no valid cosignature in the answer: {reason}")
        return valid[0]


def _latest_size(answer: BoundedAnswer) -> int:
    match = _SIZE.fullmatch(answer.text)
    if not answer.headers.get("content-type", "").startswith("text/x.tlog.size") or not match:
        raise WitnessError(f"a 409 that is not a text/x.tlog.size answer: {_detail(answer)}")
    return int(match.group(1))


def _detail(answer: BoundedAnswer) -> str:
    try:
        body = json.loads(answer.content)
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, str):
            return detail[:300]
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        pass
    return answer.text[:300].strip() or "no detail"


class WitnessPublisher:
    """Asks every witness to cosign each new checkpoint, within `timeout` seconds.

    `known_sizes` maps a witness's key name to the size it last cosigned (from the
    cosignatures table), so the first submission after a restart needs no 409 round trip.
    """

    def __init__(
        self,
        witnesses: Sequence[WitnessConfig],
        consistency_proof: ConsistencyProof,
        *,
        timeout: float = 5.0,
        http: httpx.AsyncClient | None = None,
        known_sizes: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._proof = consistency_proof
        known = known_sizes or {}
        self.clients = [
            WitnessClient(
                w,
                self._http,
                known_size=known.get(w.cosigner_key().name),
                timeout=timeout,
                clock=clock,
            )
            for w in witnesses
        ]
        self._pending: set[asyncio.Task[Cosignature]] = set()

    def keys(self) -> list[CosignerKey]:
        """The witnesses' cosigner keys (for `published`)."""
        return [client.key for client in self.clients]

    async def cosign(
        self,
        note: str,
        skip: Collection[str] = (),
        on_cosigned: Callable[[Cosignature], Awaitable[None]] | None = None,
    ) -> list[Cosignature]:
        """The verified cosignatures of `note` that came back within the timeout.

        `skip` names witnesses (key names) that already cosigned it: to retry a checkpoint
        still short of its quorum, ask only the others. `on_cosigned` is awaited with each
        cosignature as it arrives, so that a quorum reached early is kept (and published)
        without waiting for a slow witness's timeout.
        """
        try:
            checkpoint = parse_checkpoint(note)
        except CheckpointError as error:
            raise ValueError(f"not a signed checkpoint: {error}") from None
        asked = [client for client in self.clients if client.key.name not in skip]
        if not asked:
            return []
        tasks = {
            asyncio.create_task(client.submit(note, checkpoint, self._proof)): client
            for client in asked
        }
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        waiting: set[asyncio.Task[Cosignature]] = set(tasks)
        cosignatures: list[Cosignature] = []
        try:
            while waiting and (left := deadline - loop.time()) > 0:
                done, waiting = await asyncio.wait(
                    waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    failure = task.exception()
                    if failure is None:
                        cosignatures.append(task.result())
                        if on_cosigned is not None:
                            await on_cosigned(task.result())
                    elif not isinstance(failure, WitnessError):
                        tasks[task].record_error(f"{type(failure).__name__}: {failure}")
        finally:
            for task in waiting:
                # Cancelled, not awaited: the caller goes on at once; the witness's state
                # is learnt again from its 409 next time if it did cosign meanwhile.
                task.cancel()
                tasks[task].record_error(f"no answer within {self.timeout} s")
                self._pending.add(task)
                task.add_done_callback(self._forget)
        return cosignatures

    def _forget(self, task: asyncio.Task[Cosignature]) -> None:
        self._pending.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so that asyncio does not log it as lost

    def status(self) -> list[WitnessStatus]:
        """A copy of each witness's status, in configuration order."""
        return [replace(client.status) for client in self.clients]

    async def aclose(self) -> None:
        """Cancel what is still in flight and close the HTTP client if it is ours."""
        for task in list(self._pending):
            task.cancel()
        if self._own_http:
            await self._http.aclose()


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """A signed checkpoint note and the cosignature lines kept for it."""

    note: str
    cosignatures: tuple[str, ...] = field(default=())

    def text(self) -> str:
        """The note with its cosignature lines: what `/public/log/checkpoint` serves."""
        return add_signature_lines(self.note, self.cosignatures)


def published(
    candidates: Iterable[WitnessedCheckpoint],
    witness_keys: Sequence[CosignerKey],
    quorum: int,
    satisfied: Callable[[Sequence[Cosignature]], bool] | None = None,
) -> WitnessedCheckpoint | None:
    """The newest checkpoint carrying `quorum` valid cosignatures, with only those lines;
    with `satisfied` (a tlog-policy's groups), the newest whose valid ones satisfy it.

    "Newest" is the largest tree size (the later one on a tie). With a quorum of 0 it is
    simply the newest. None if no candidate has a quorum; malformed candidates are skipped.
    """
    sized = []
    for order, candidate in enumerate(candidates):
        try:
            sized.append((parse_checkpoint(candidate.note).size, order, candidate))
        except CheckpointError:
            continue
    # Newest first, so that only the checkpoints newer than the answer are verified.
    for _, _, candidate in sorted(sized, key=lambda item: (item[0], item[1]), reverse=True):
        text, _ = split_note(candidate.note)
        try:
            lines = [
                parsed
                for line in candidate.cosignatures
                for parsed in parse_signature_lines(line.rstrip("\n") + "\n")
            ]
        except CosignatureError:
            continue
        valid, _ = valid_cosignatures(text, lines, witness_keys)
        if len(valid) >= quorum and (satisfied is None or satisfied(valid)):
            return WitnessedCheckpoint(candidate.note, tuple(c.line for c in valid))
    return None
