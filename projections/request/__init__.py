"""One request's state, folded from its stream (pure): shared by the rules, time travel
and the `request_state` projection.

`evolve` is O(1) in the length of the stream for every event but a retraction. A
retraction makes the stream fold as if its target had never happened, which only a
re-fold can do: `fold` pre-scans for retractions and skips their targets (`known`, at
every business time: SPEC §5), and `evolve` given a retraction re-folds from the
`history` it is handed, or raises `RefoldRequired`.
"""

from projections.request.folding import evolve, evolve_known, fold, known
from projections.request.state import (
    Annotation,
    EventLike,
    Hold,
    InformationRequest,
    Procedure,
    RefoldRequired,
    RequestState,
    Review,
    Shipment,
    status,
)
from projections.request.statuses import PENDING_STATUSES, STATUSES, Status, derived_status
from projections.request.views import public_view, view

__all__ = [
    "PENDING_STATUSES",
    "STATUSES",
    "Annotation",
    "EventLike",
    "Hold",
    "InformationRequest",
    "Procedure",
    "RefoldRequired",
    "RequestState",
    "Review",
    "Shipment",
    "Status",
    "derived_status",
    "evolve",
    "evolve_known",
    "fold",
    "known",
    "public_view",
    "status",
    "view",
]
