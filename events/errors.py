"""Docket's one error tree, rooted here at `DocketError` (the lowest layer, so that
`projections/` and `service/` derive from it too), and the log's errors under `LogError`.

```
DocketError               carries its HTTP status and problem type (SPEC §6)
├── LogError              the log layer (`events/`), below
├── ProjectionError       the read models (`projections.errors`)
└── the service's kinds   `service.errors` (BadRequest … Unavailable), the rule errors,
                          the witness's `Refusal`, the monitor's `MonitorError`, `Evidence`

LogError
├── StoreError            the store refused an append, or cannot take one
│   ├── ConcurrencyConflict   a stream was not at the expected version
│   ├── DuplicateEvents       some, not all, of an append's events are already recorded
│   ├── StoreClosed           the store was closed before the append was written
│   ├── NumberingExhausted    every stream looked up for a year's next request id was taken
│   └── ErasureRefused        an erasure names a position that is not in the log, or erased
├── ImportRefused         an import file does not verify, or the log is not empty
│   └── LogNotEmpty           the log already holds events
├── TreeError             the stored Merkle tree cannot answer (a size beyond it, a bad range)
├── ProofError            a Merkle proof does not verify (also a ValueError)
├── CheckpointError       a checkpoint note does not parse or verify (also a ValueError)
├── CosignatureError      a cosignature, witness key or signature line is bad (also a ValueError)
│   └── QuorumError           a checkpoint carries fewer valid cosignatures than the quorum
├── TileError             a tile path or tile is malformed or not of the tree (also a ValueError)
├── ReceiptError          a receipt's witness key is unusable (also a ValueError)
├── StatementError        a receipt's statement does not parse or verify (also a ValueError)
├── TlogProofError        a C2SP tlog-proof text is malformed (also a ValueError)
├── PolicyError           a C2SP tlog-policy file is malformed (also a ValueError)
├── SigningKeyError       the signing key file is missing or not an Ed25519 key
├── BundleError           an export does not verify against its signed checkpoint
├── PeerAnswerError       a peer's answer over its bound, too slow, or redirected away
├── WitnessError          a witness did not cosign (down, refused, garbled)
└── OldCanonicalForm      a database holds a log hashed in canonical form v1 (no salts)
```

Each is also importable from where it was first defined (`events.model`, `events.store`,
`events.transfer`, `events.log_tree`, `events.merkle`, `events.checkpoints`,
`events.bundle`, `events.cosignature`, `events.tiles`, `events.receipt`,
`events.statement`, `events.tlog_proof`, `events.tlog_policy`). The parser errors
(`ProofError`, `CheckpointError`, `CosignatureError`, `TileError`, `ReceiptError`,
`StatementError`, `TlogProofError`, `PolicyError`) stay
`ValueError`s, as callers catch them. A parser of outside input raises only its own error
of this tree, numbers over 20 digits included (SPEC §11 R14, `events.numbers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from events.model import ExpectedVersion


PROBLEM_BASE = "https://docket.example.org/problems/"


class DocketError(Exception):
    """The root of every error Docket raises (`events/`, `projections/`, `service/`).

    It carries its answer: subclasses fix `status`, `slug` and `title`; an instance may
    override them (a rule, a status met at the edge). One renderer
    (`service.api.problems.problem_response`) turns any of them into an RFC 9457 problem;
    one still at the default 500 is an internal error, logged and answered without its
    detail."""

    status: int = 500
    #: the last segment of the problem type URI when no rule is named
    slug: str = "internal-error"
    title: str = "Internal error"
    rule: str | None = None

    def __init__(
        self,
        detail: str = "",
        *,
        rule: str | None = None,
        status: int | None = None,
        title: str | None = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if rule is not None:
            self.rule = rule
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if slug is not None:
            self.slug = slug
        self.headers: dict[str, str] = headers or {}
        self.extra: dict[str, Any] = extra

    @property
    def type(self) -> str:
        """The problem type URI: the rule's when one is named, else the kind's."""
        return PROBLEM_BASE + (self.rule or self.slug)

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document."""
        document: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.rule:
            document["rule"] = self.rule
        document.update(self.extra)
        return document


class LogError(DocketError):
    """Base of every error of the log layer (`events/`)."""


class StoreError(LogError):
    """Base of the store's refusals."""


class ConcurrencyConflict(StoreError):
    """A stream was not at the version the caller expected."""

    def __init__(self, stream_id: str, expected: ExpectedVersion, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected!r}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEvents(StoreError):
    """Some, but not all, of an append's events are already in the log."""

    def __init__(self, present: Sequence[uuid.UUID]) -> None:
        shown = ", ".join(str(event_id) for event_id in present[:3])
        super().__init__(f"{len(present)} of the events are already recorded ({shown} …)")
        self.present = list(present)


class StoreClosed(StoreError):
    """The store was closed before the append could be written."""


class NumberingExhausted(StoreError):
    """Every stream looked up for a year's next server-assigned request id was taken
    (a long run of ids callers chose themselves): retry, the number has moved past them."""


class ErasureRefused(StoreError):
    """An erasure breaks a rule of SPEC §3 `ErasureRecorded` (checked under the writers'
    lock): `rule` is `position_exists` or `not_already_erased`; nothing was written."""

    def __init__(self, rule: str, positions: Sequence[int]) -> None:
        shown = ", ".join(str(p) for p in positions[:10])
        what = "not in the log" if rule == "position_exists" else "already erased"
        super().__init__(f"position(s) {shown} {what}")
        self.rule = rule
        self.positions = list(positions)


class ImportRefused(LogError):
    """The file cannot be imported; nothing was written."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        at = f" at position {position}" if position is not None else ""
        super().__init__(f"import refused{at}: {reason}")
        self.position = position


class LogNotEmpty(ImportRefused):
    """An import into a log that already holds events."""

    def __init__(self, head: int) -> None:
        super().__init__(f"the log already holds {head} events; import into an empty one")
        self.head = head


class TreeError(LogError):
    """The stored tree cannot answer: a size beyond what it covers, or a bad range."""


class ProofError(LogError, ValueError):
    """A Merkle proof does not verify."""


class CheckpointError(LogError, ValueError):
    """A note or checkpoint is malformed or its signature does not verify."""


class CosignatureError(LogError, ValueError):
    """A cosignature, a cosigner key or a signature line is malformed or does not verify."""


class QuorumError(CosignatureError):
    """A checkpoint carries fewer valid cosignatures than the quorum asks."""


class TileError(LogError, ValueError):
    """A tile path or tile is malformed, or a tile is not part of the tree."""


class ReceiptError(LogError, ValueError):
    """A key given to check a receipt is unusable (a receipt's own faults are `Failure`s)."""


class StatementError(LogError, ValueError):
    """A receipt's statement is malformed or not signed by the log key."""


class TlogProofError(LogError, ValueError):
    """A C2SP tlog-proof text is malformed."""


class PolicyError(LogError, ValueError):
    """A C2SP tlog-policy file is malformed, or lists one public key twice."""


class SigningKeyError(LogError):
    """The signing key file is missing or is not an Ed25519 private key."""


class BundleError(LogError):
    """The bundle or its checkpoint does not verify; `position` is the first bad one."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        at = f"position {position}: " if position is not None else ""
        super().__init__(f"{at}{reason}")
        self.reason = reason
        self.position = position


class OldCanonicalForm(LogError):
    """The database holds events hashed in canonical form v1 (before salts, SPEC §4):
    migration `0006_event_salt` refuses it rather than give it salts its hashes lack."""

    def __init__(self, events: int) -> None:
        super().__init__(
            f"the database's log holds {events} events in the old canonical form v1 (no "
            "salt), whose hashes cannot be carried into form v2. Keep it with the Docket "
            "version that wrote it (`docket export` there for an archive), and point this "
            "one at a new, empty database (DOCKET_DATABASE_URL), then `docket migrate`"
        )
        self.events = events
