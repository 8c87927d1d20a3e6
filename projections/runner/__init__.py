"""The projection runner (`runner.ProjectionRunner`): the worker lock (`lock`), the
compare-and-set checkpoints (`checkpoints`), the read loop (`pages`) and a rebuild's fold
(`replay`; in worker processes on PostgreSQL, `partitioned`) over a list of projections
(`projections.projection.Projection`, registered in `projections.read_models`)."""

from projections.read_models.request_state import state_record
from projections.runner.lock import PROJECTION_LOCK_KEY, ProjectionLockBusy
from projections.runner.partitioned import RebuildWorkerFailed
from projections.runner.rebuild_worker import WorkerReport
from projections.runner.replay import Progress
from projections.runner.runner import ProjectionRunner

__all__ = [
    "PROJECTION_LOCK_KEY",
    "Progress",
    "ProjectionLockBusy",
    "ProjectionRunner",
    "RebuildWorkerFailed",
    "WorkerReport",
    "state_record",
]
