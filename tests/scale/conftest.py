"""Fixtures of the scale-out tests: a real hot standby (tests/replica.py)."""

from tests.replica import hot_standby_pair, standby

__all__ = ["hot_standby_pair", "standby"]
