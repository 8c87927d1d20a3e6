"""The Security Council's membership for 2025 and 2026, as `MemberSeated` data.

`docket roster load` appends these to the `committee` stream (the 1718 Committee has the
Council's fifteen members). Source: UN Security Council, "Current Members", and the
General Assembly elections of June 2023, 2024 and 2025.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ROSTER_2025_2026"]

_PERMANENT = ("CHN", "FRA", "GBR", "RUS", "USA")
_ELECTED: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("DZA", "GUY", "KOR", "SLE", "SVN"), "2024-01-01", "2025-12-31"),
    (("DNK", "GRC", "PAK", "PAN", "SOM"), "2025-01-01", "2026-12-31"),
    (("BHR", "COD", "COL", "LBR", "LVA"), "2026-01-01", "2027-12-31"),
)

ROSTER_2025_2026: list[dict[str, Any]] = [
    {"member": member, "term_start": "1945-10-24", "term_end": None} for member in _PERMANENT
] + [
    {"member": member, "term_start": start, "term_end": end}
    for members, start, end in _ELECTED
    for member in members
]
