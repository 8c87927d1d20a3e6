"""RFC 8785 (JCS) canonical JSON. Placeholder: the reference implementation only."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical(value: Any) -> bytes:
    """The RFC 8785 serialisation of `value`."""
    return rfc8785.dumps(value)
