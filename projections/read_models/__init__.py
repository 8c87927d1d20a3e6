"""The projections the runner keeps: one module each, and the list that registers them.

To add one: write its module here (a class with the `projections.projection.Projection`
shape, its table in `projections.tables` with a migration) and add its class to
`REGISTERED`. Nothing else changes: the runner checkpoints, rebuilds and pipelines it
like the others.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table

from projections.projection import Projection
from projections.read_models.request_intervals import RequestIntervals
from projections.read_models.request_state import RequestStates

#: The projections a runner keeps by default, in the order their writes are flushed.
REGISTERED: list[Callable[[], Projection]] = [
    RequestStates,
    RequestIntervals,
]


def default_projections() -> list[Projection]:
    """A fresh instance of every registered projection (each runner has its own:
    they keep caches)."""
    return [make() for make in REGISTERED]


def _catalogue() -> tuple[tuple[str, ...], dict[str, Table]]:
    made = default_projections()
    names = tuple(projection.name for projection in made)
    tables = {table.name: table for projection in made for table in projection.tables}
    return names, tables


#: The names of the registered projections, and their tables by table name.
PROJECTIONS, TABLES = _catalogue()
