"""A tlog-tiles client written from C2SP tlog-tiles and RFC 6962 §2.1 alone.

It imports nothing of Docket, so that Docket's tiles are checked against the spec and not
against Docket's own reading of it. `fetch(path)` returns the bytes served at
`<prefix>/<path>`.

From the spec: the n-th tile at level l holds, for i in 0..255,
`MTH(D[(n * 256 + i) * 256**l : (n * 256 + i + 1) * 256**l])`; the partial tile at level
l of a tree of size s has `floor(s / 256**l) mod 256` entries; `<N>` is written in
3-digit groups, all but the last prefixed with `x`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

Fetch = Callable[[str], bytes]


def path_of(level: int, n: int, width: int) -> str:
    digits = f"{n:d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    encoded = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    return f"tile/{level}/{encoded}" + ("" if width == 256 else f".p/{width}")


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class TilesClient:
    def __init__(self, fetch: Fetch, size: int) -> None:
        self.fetch = fetch
        self.size = size
        self.cache: dict[tuple[int, int], bytes] = {}

    def _tile(self, level: int, n: int) -> bytes:
        if (level, n) not in self.cache:
            if (n + 1) * 256 * 256**level <= self.size:
                width = 256
            else:
                width = (self.size // 256**level) % 256
            data = self.fetch(path_of(level, n, width))
            assert len(data) == 32 * width, f"tile {level}/{n} has {len(data)} bytes"
            self.cache[(level, n)] = data
        return self.cache[(level, n)]

    def _tile_hash(self, level: int, j: int) -> bytes:
        """MTH(D[j * 256**level : (j + 1) * 256**level]), as a tile stores it."""
        data = self._tile(level, j // 256)
        offset = 32 * (j % 256)
        return data[offset : offset + 32]

    def mth(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) for a range that RFC 6962's recursion reaches."""
        n = b - a
        if n == 0:
            return hashlib.sha256(b"").digest()
        level, span = 0, 1
        while span * 256 <= n:
            level, span = level + 1, span * 256
        if n == span and a % span == 0:
            return self._tile_hash(level, a // span)
        k = _largest_power_of_two_below(n)
        return hashlib.sha256(b"\x01" + self.mth(a, a + k) + self.mth(a + k, b)).digest()

    def root(self) -> bytes:
        return self.mth(0, self.size)

    def leaf_hash(self, m: int) -> bytes:
        return self._tile_hash(0, m)

    def inclusion_path(self, m: int, a: int = 0, b: int | None = None) -> list[bytes]:
        """PATH(m, D[a:b]) of RFC 6962 §2.1.1, m relative to a."""
        b = self.size if b is None else b
        n = b - a
        if n == 1:
            return []
        k = _largest_power_of_two_below(n)
        if m < k:
            return [*self.inclusion_path(m, a, a + k), self.mth(a + k, b)]
        return [*self.inclusion_path(m - k, a + k, b), self.mth(a, a + k)]

    def consistency_proof(self, m: int) -> list[bytes]:
        """PROOF(m, D[0:size]) of RFC 6962 §2.1.2."""
        return self._subproof(m, 0, self.size, True)

    def _subproof(self, m: int, a: int, b: int, whole: bool) -> list[bytes]:
        n = b - a
        if m == n:
            return [] if whole else [self.mth(a, b)]
        k = _largest_power_of_two_below(n)
        if m <= k:
            return [*self._subproof(m, a, a + k, whole), self.mth(a + k, b)]
        return [*self._subproof(m - k, a + k, b, False), self.mth(a, a + k)]
