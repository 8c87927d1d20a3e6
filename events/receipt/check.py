"""What verifying a receipt found: a `ReceiptCheck`, each fault a `Failure`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events.checkpoints import Checkpoint
from events.receipt.cosignatures import Cosigned
from events.statement import Statement

__all__ = ["Failure", "ReceiptCheck", "as_int", "shown"]


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


def as_int(value: Any) -> int | None:
    """A receipt's value if it is an integer (never a bool), else None."""
    return value if type(value) is int else None


def shown(value: Any) -> str:
    """A value of the receipt in a message: a string quoted (and cut), else its JSON type."""
    if isinstance(value, str):
        return repr(value[:200])
    return "nothing" if value is None else f"a JSON {type(value).__name__}, not a string"
