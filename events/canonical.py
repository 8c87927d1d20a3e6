"""RFC 8785 (JCS) canonical JSON: an orjson fast path, proven equal to `rfc8785`.

orjson with `OPT_SORT_KEYS` writes exactly the JCS bytes for `None`, `bool`, `str`,
integers, lists, tuples and dicts with `str` keys, with three exceptions, which one cheap
walk over the value detects before serialising:

- keys: orjson sorts by code point, JCS by UTF-16 code unit. The two orders differ only
  between a character above U+FFFF (a surrogate pair, 0xD800..) and one in
  U+E000..U+FFFF, so an object with a key holding any character >= U+E000 goes to the
  reference implementation;
- floats: orjson writes `5.0`, `1e+16`, `-0.0` where ECMAScript writes `5`,
  `10000000000000000`, `0`; each float is replaced by an `orjson.Fragment` holding its
  `rfc8785` text, so the rest of the value still takes the fast path;
- integers outside ±(2^53 - 1): RFC 8785 numbers are IEEE doubles and `rfc8785` refuses
  them; orjson's `OPT_STRICT_INTEGER` refuses the same ones, and the reference raises.

Anything else (subclasses, other types, surrogates, nesting orjson refuses) goes to
`rfc8785.dumps`, so errors are always `rfc8785.CanonicalizationError`.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

from events.errors import LogError

__all__ = ["CanonicalizationError", "canonical", "dumps_plain", "is_plain"]

CanonicalizationError = rfc8785.CanonicalizationError

# STRICT_INTEGER makes orjson refuse integers outside ±(2^53 - 1), the same bound as
# rfc8785, so the walk need not look at integers at all.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_FIRST_SLOW_KEY_CHAR = "\ue000"
_SCALARS = frozenset({str, int, bool, type(None)})

# What the walk finds.
_PLAIN = 0  # orjson output is the JCS output
_FLOATS = 1  # the same once floats are replaced by their JCS text


class _Unsupported(LogError):
    """The value is outside the fast path's subset."""


def canonical(value: Any) -> bytes:
    """The RFC 8785 serialisation of `value`, byte for byte `rfc8785.dumps(value)`."""
    try:
        if _walk(value) == _FLOATS:
            value = _with_float_fragments(value)
        return orjson.dumps(value, option=_OPTIONS)
    except (_Unsupported, AttributeError, orjson.JSONEncodeError, RecursionError):
        # AttributeError: a key without isascii(), i.e. not a string. orjson refuses
        # surrogates, big integers, non-string keys and nesting deeper than 255: let the
        # reference implementation serialise or raise its own error.
        return rfc8785.dumps(value)


def _walk(value: Any) -> int:
    """Check `value` is in the fast-path subset; say whether it holds floats.

    Types are compared exactly: subclasses (enums, OrderedDict) take the reference path.
    """
    kind = type(value)
    if kind is dict:
        for key in value:
            # isascii() is O(1) on CPython; max() runs only for non-ASCII keys.
            if not key.isascii() and max(key) >= _FIRST_SLOW_KEY_CHAR:
                raise _Unsupported
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    elif kind is float:
        return _FLOATS
    elif kind in _SCALARS:
        return _PLAIN
    else:
        raise _Unsupported
    found = _PLAIN
    for item in items:
        item_kind = type(item)
        # Leaves inline: a call per string would double the cost of the walk.
        if item_kind is str or item_kind is int or item_kind is bool or item is None:
            continue
        found |= _walk(item)
    return found


def _with_float_fragments(value: Any) -> Any:
    """A copy of `value` (already walked) with every float as its JCS text."""
    kind = type(value)
    if kind is float:
        # rfc8785 raises for NaN and infinities, as it would for the whole value.
        return orjson.Fragment(rfc8785.dumps(value))
    if kind is dict:
        return {key: _with_float_fragments(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_with_float_fragments(item) for item in value]
    return value


def is_plain(value: Any) -> bool:
    """True when `dumps_plain(value)` is `canonical(value)` (no float, no late key, no odd
    type), so that a caller serialising several parts of one value walks it only once."""
    try:
        return _walk(value) == _PLAIN
    except (_Unsupported, AttributeError, RecursionError):
        return False


def dumps_plain(value: Any) -> bytes:
    """orjson's sorted, strict-integer bytes of a value `is_plain` accepted.

    Raises `orjson.JSONEncodeError` where orjson refuses (surrogates, big integers): the
    caller then falls back to `canonical`."""
    return orjson.dumps(value, option=_OPTIONS)
