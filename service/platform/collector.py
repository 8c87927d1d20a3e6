"""The cyclic garbage collector of a serving process: what start-up built frozen out of
its walks, and collections spaced for a heap that makes almost no cycles.

Under B2's load the server makes next to no cyclic garbage (a `gc.DEBUG_SAVEALL` run
kept 833 objects, all from start and stop); reference counting frees the rest. With the
interpreter's thresholds (700, 10, 10) the collector still ran ~70 times a second, and its
full walks of the ~230,000 objects alive (150,000 of them the imported modules and the
app, built at start) paused the event loop for 50-330 ms each: every request in flight
waited, which was B2's p99.

So at the end of start-up everything alive is moved to the permanent generation
(`gc.freeze`: never walked again, still freed by reference counting), and the young
generation is collected every `YOUNG` allocations net of deallocations instead of 700.
Below a few thousand, the allocations of the requests in flight alone trigger passes;
above it, a pass walks mostly what the caches kept (request states, holds: they grow
with the log), cold in memory at ~1 µs an object, so `YOUNG` bounds the young pause to
~10 ms, and `MIDDLE` the middle one to ~`MIDDLE` × that. Cycles are still collected.
"""

from __future__ import annotations

import gc

#: allocations (net of deallocations) of container objects between young collections
YOUNG = 10_000
#: young collections per middle one, middle ones per full one (the interpreter's are 10
#: and 10; a full collection also waits until a quarter of the long-lived heap is new)
MIDDLE = 5
OLD = 10


def settle_after_start() -> None:
    """Collect once, freeze what start-up left alive, and space the collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
