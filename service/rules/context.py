"""What a decision needs besides the state and the command: the time and the policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from projections.committee import EMPTY_ROSTER, Roster
from service.platform.settings import Settings
from service.rules.calendar import zone


@dataclass(frozen=True, slots=True)
class Context:
    """`now` (the server clock, aware), the roster, and the committee's policy values."""

    now: datetime
    roster: Roster = EMPTY_ROSTER
    working_days: int = 5
    expedited_working_days: int = 2
    tz: str = "America/New_York"
    holidays: frozenset[date] = frozenset()
    validity_months: int = 6
    extended_validity_months: int = 9
    shipments_allowed: int = 3
    holds_lapse_on_departure: bool = True

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("Context.now must be timezone-aware")

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        now: datetime,
        roster: Roster = EMPTY_ROSTER,
        holidays: frozenset[date] = frozenset(),
    ) -> Context:
        """The context for `settings`; the shell loads the roster and the holidays."""
        return cls(
            now=now,
            roster=roster,
            working_days=settings.working_days,
            expedited_working_days=settings.expedited_working_days,
            tz=settings.time_zone,
            holidays=holidays,
            validity_months=settings.validity_months,
            extended_validity_months=settings.extended_validity_months,
            shipments_allowed=settings.shipments_allowed,
            holds_lapse_on_departure=settings.holds_lapse_on_departure,
        )
