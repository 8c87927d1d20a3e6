"""What the log has published: the checkpoint that public proofs, tiles and receipts are
made against.

`published_checkpoint(runtime)` is the one answer to "which checkpoint may the public
rely on?". Without witnesses it is the newest checkpoint the log signed; with witnesses
configured (DOCKET_WITNESSES) it is the newest one cosigned by a quorum, with those
cosignatures appended to the note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.runtime import Runtime

__all__ = ["Published", "published_checkpoint"]


@dataclass(frozen=True, slots=True)
class Published:
    """A published checkpoint: the signed note (with its cosignatures), the tree size it
    covers and when the log signed it."""

    note: str
    size: int
    signed_at: datetime


async def published_checkpoint(runtime: Runtime) -> Published | None:
    """The checkpoint the public may rely on, or None while nothing is published."""
    latest = await runtime.tree.latest_checkpoint()
    if latest is None:
        return None
    return Published(note=latest.note, size=latest.tree_size, signed_at=latest.created_at)
