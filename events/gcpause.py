"""The cyclic garbage collector paused for a bulk walk of the log.

A replay, a chain walk or an import allocates millions of small objects (events, rows,
states, hashes) that live for a page or longer and form no cycles: reference counting
frees them. The collections their allocation triggers would walk them again and again
(~40 % of a rebuild's CPU). The switch is process-wide: other tasks that run while a
paused walk waits on the database run without the collector for that long.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off inside the block, restored on exit (nests: an inner
    block leaves a collector paused by an outer one paused)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
