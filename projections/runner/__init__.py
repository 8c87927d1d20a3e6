"""The projection runner (`runner.ProjectionRunner`): the worker lock (`lock`), the
compare-and-set checkpoints (`checkpoints`) and the read loop (`pages`) over a list of
projections (`projections.projection.Projection`, registered in
`projections.read_models`)."""

from projections.read_models.request_state import state_record
from projections.runner.lock import PROJECTION_LOCK_KEY, ProjectionLockBusy
from projections.runner.runner import Progress, ProjectionRunner

__all__ = [
    "PROJECTION_LOCK_KEY",
    "Progress",
    "ProjectionLockBusy",
    "ProjectionRunner",
    "state_record",
]
