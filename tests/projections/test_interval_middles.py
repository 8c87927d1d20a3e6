"""The middle values found by walking the fixed values' index from `window` and merging
the moving ones (`interval_middles._kth`) are those of the sorted whole, for random
groups: ties between fixed and moving values, no fixed or no moving value, one value."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.intervals.middles import _kth, window

values = st.lists(st.integers(-5, 40), max_size=30)


@given(values, values)
def test_the_middles_are_those_of_the_sorted_whole(fixed: list[int], moving: list[int]) -> None:
    everything = sorted(fixed + moving)
    n = len(everything)
    fixed, moving = sorted(fixed), sorted(moving)
    ranks = window(len(fixed), len(moving))
    first, last = ranks if ranks is not None else (1, 0)
    shown = fixed[first - 1 : last]  # what the walk reads, no more
    for k in sorted({(n + 1) // 2, n // 2 + 1}) if n else []:
        assert _kth(k, len(fixed), first, shown, moving) == everything[k - 1]


def test_the_window_reads_no_more_than_the_moving_values_allow() -> None:
    assert window(0, 4) is None
    assert window(9, 0) == (5, 6)  # the middle one, and the next (unused but cheap)
    assert window(10, 0) == (5, 7)
    assert window(100, 3) == (49, 53)
