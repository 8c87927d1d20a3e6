"""Numbers read from outside input, bounded (SPEC §11 R14): at most 20 digits.

Twenty digits hold every unsigned 64-bit value (a tree size, a leaf index, a timestamp).
The length is checked before any conversion: `int()` of a text over Python's 4,300-digit
limit raises a bare `ValueError`, and a parser must raise only its own typed error.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["MAX_DIGITS", "parse_decimal", "too_many_digits"]

MAX_DIGITS = 20
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII digits only: int() would take any script's
_LIMIT = 10**MAX_DIGITS


def parse_decimal(text: str, what: str, error: Callable[[str], Exception]) -> int:
    """The value of `text`, a decimal without sign or leading zeros of at most 20 digits.

    Otherwise raises `error(reason)`: each parser passes its own error type.
    """
    if len(text) > MAX_DIGITS:
        if text.isascii() and text.isdigit():
            raise error(f"{what} has {len(text):,} digits, more than the {MAX_DIGITS} allowed")
        shown = text[:MAX_DIGITS]
        raise error(f"{what} {shown!r}… is not a decimal of at most {MAX_DIGITS} digits")
    if not _DECIMAL.fullmatch(text):
        raise error(f"{what} {text!r} is not a decimal without sign or leading zeros")
    return int(text)


def too_many_digits(value: int) -> bool:
    """Whether an integer (from JSON, say) is written with more than 20 digits."""
    return not -_LIMIT < value < _LIMIT
