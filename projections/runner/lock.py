"""One active projection worker per database: the store backend's session lock on
`PROJECTION_LOCK_KEY` (`events.store.locks`).

On PostgreSQL the worker holds an advisory lock (not the store's append lock) on a
connection kept for its lifetime; others stand by and retry. SQLite has no such lock:
writes serialise on the database lock (`BEGIN IMMEDIATE`) and the runner's
compare-and-set checkpoints make concurrent runners safe, if wasteful; there the lock is
always held.
"""

from __future__ import annotations

from projections.errors import ProjectionError

#: The advisory lock of the projection worker ("docket-p" in ASCII); the store's append
#: lock is another key.
PROJECTION_LOCK_KEY = int.from_bytes(b"docket-p", "big")


class ProjectionLockBusy(ProjectionError, RuntimeError):
    """Another projection worker holds the lock on this database."""
