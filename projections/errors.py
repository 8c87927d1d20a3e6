"""The read models' errors, under Docket's one root (`events.errors.DocketError`)."""

from __future__ import annotations

from events.errors import DocketError


class ProjectionError(DocketError):
    """Base of every error of the read models (`projections/`)."""
