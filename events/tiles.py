"""C2SP `tlog-tiles` hash tiles over the log's RFC 9162 tree (tile height 8).

The tile at level `L`, index `N` and width `W` is the concatenation of the hashes of the
stored tree nodes `(8 * L, N * 256 + i)` for `i < W`: level 0 tiles hold leaf hashes, and
each hash of a level `L` tile is the root of a full tile at level `L - 1`. A full tile has
256 hashes (8,192 bytes); the rightmost tiles of a tree are partial (`.p/<W>`).

Paths are `tile/<L>/<N>[.p/<W>]`, `N` written in 3-digit groups, all but the last with an
`x` prefix (`1234067` is `x001/x234/067`).

The log serves `tile_bytes(tile, hash_at)` from its stored nodes (`tile_node_range` gives
the one range query). A client asks `tiles_for_nodes` which tiles hold the nodes a proof
needs (`events.merkle.nodes_needed_for_*`), fetches them, and reads any node with
`TileHashes(size, fetched).hash_at`, which `events.merkle`'s proof functions take as
`get_node`. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from events.errors import TileError
from events.merkle import Node, node_hash
from events.numbers import MAX_DIGITS

__all__ = [
    "HASH_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileError",
    "TileHashes",
    "parse_tile_path",
    "tile_at",
    "tile_bytes",
    "tile_node_range",
    "tile_root",
    "tiles_for_nodes",
    "tiles_of_tree",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
HASH_SIZE = 32
_MAX_LEVEL = 63
_PATH = re.compile(r"tile/(0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


@dataclass(frozen=True, slots=True, order=True)
class Tile:
    """A hash tile: its level, its index in the level and its width (1..256 hashes)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= _MAX_LEVEL:
            raise TileError(f"tile level {self.level} is not in 0..{_MAX_LEVEL}")
        if self.index < 0:
            raise TileError(f"tile index {self.index} is negative")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"tile width {self.width} is not in 1..{TILE_WIDTH}")

    @property
    def full(self) -> bool:
        """Whether the tile holds all 256 hashes (and so never changes)."""
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """`tile/<L>/<N>[.p/<W>]`."""
        partial = "" if self.full else f".p/{self.width}"
        return f"tile/{self.level}/{_encode_index(self.index)}{partial}"

    def end(self) -> int:
        """How many leaves a tree needs for this tile (at this width) to exist."""
        return (self.index * TILE_WIDTH + self.width) << (TILE_HEIGHT * self.level)


def _encode_index(index: int) -> str:
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> Tile:
    """The tile named by `tile/<L>/<N>[.p/<W>]`, written only the one canonical way."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise TileError(f"{path!r} is not a tile path tile/<L>/<N>[.p/<W>]")
    level_text, index_text, width_text = match.groups()
    digits = index_text.replace("x", "").replace("/", "")
    # Before int(): a 5,000-digit index would raise a bare ValueError (R14).
    if len(digits.lstrip("0")) > MAX_DIGITS:
        raise TileError(f"a tile index has at most {MAX_DIGITS} digits, not {len(digits):,}")
    index = int(digits)
    width = int(width_text) if width_text else TILE_WIDTH
    if width == TILE_WIDTH and width_text:
        raise TileError("a full tile has no .p/ suffix")
    tile = Tile(int(level_text), index, width)
    # "x000/005" and the like name index 5 a second way: refuse them.
    if tile.path() != path:
        raise TileError(f"{path!r} is not the canonical path of tile {tile.path()!r}")
    return tile


def tile_at(level: int, index: int, size: int) -> Tile | None:
    """The tile `level`/`index` of a tree of `size` leaves, full or partial; None if empty."""
    hashes = size >> (TILE_HEIGHT * level)  # complete nodes at tree level 8 * level
    width = min(hashes - index * TILE_WIDTH, TILE_WIDTH)
    return Tile(level, index, width) if width > 0 else None


def tiles_of_tree(size: int) -> list[Tile]:
    """Every tile of a tree of `size` leaves, level by level, full ones then the partial."""
    tiles: list[Tile] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        hashes = size >> (TILE_HEIGHT * level)
        tiles.extend(Tile(level, n) for n in range(hashes // TILE_WIDTH))
        if hashes % TILE_WIDTH:
            tiles.append(Tile(level, hashes // TILE_WIDTH, hashes % TILE_WIDTH))
        level += 1
    return tiles


def tile_node_range(tile: Tile) -> tuple[int, int, int]:
    """`(tree level, first index, end index)` of the stored nodes that make up `tile`."""
    first = tile.index * TILE_WIDTH
    return TILE_HEIGHT * tile.level, first, first + tile.width


def tile_bytes(tile: Tile, hash_at: Callable[[int, int], bytes]) -> bytes:
    """The bytes of `tile`: its nodes' hashes, in order, read with `hash_at(level, index)`."""
    level, first, end = tile_node_range(tile)
    return b"".join(hash_at(level, index) for index in range(first, end))


def tile_root(tile: Tile, data: bytes) -> bytes:
    """The hash a full `tile` contributes to the tile above it: the root of its 256 hashes."""
    if not tile.full or len(data) != TILE_WIDTH * HASH_SIZE:
        raise TileError(f"{tile.path()} is not a full tile of {TILE_WIDTH * HASH_SIZE} bytes")
    hashes = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def _tile_coordinates(node: Node) -> tuple[int, int, int]:
    """For a tree node: its tile's level and index, and its height above that level."""
    level, index = node
    tile_level, height = divmod(level, TILE_HEIGHT)
    return tile_level, (index << height) // TILE_WIDTH, height


def _check_node(node: Node, size: int) -> None:
    level, index = node
    if level < 0 or index < 0 or (index + 1) << level > size:
        raise TileError(f"node (level {level}, index {index}) is not complete in a tree of {size}")


def tiles_for_nodes(nodes: Iterable[Node], size: int) -> list[Tile]:
    """The tiles of a tree of `size` that hold (or hash up to) each of `nodes`, sorted."""
    needed: set[Tile] = set()
    for node in nodes:
        _check_node(node, size)
        tile_level, tile_index, _ = _tile_coordinates(node)
        tile = tile_at(tile_level, tile_index, size)
        if tile is None:  # cannot happen for a complete node; kept for the type checker
            raise TileError(f"no tile holds node {node} in a tree of {size}")
        needed.add(tile)
    return sorted(needed)


class TileHashes:
    """A `get_node` over fetched tiles of a tree of `size` leaves.

    Any complete node is the tile's hashes hashed up to its height (at most 7 levels), so
    roots and proofs need only the tiles `tiles_for_nodes` names.
    """

    def __init__(self, size: int, tiles: Mapping[Tile, bytes]) -> None:
        self.size = size
        self._tiles: dict[tuple[int, int], bytes] = {}
        for tile, data in tiles.items():
            if len(data) != tile.width * HASH_SIZE:
                raise TileError(f"{tile.path()} is {len(data)} bytes, not {tile.width * HASH_SIZE}")
            if tile_at(tile.level, tile.index, size) != tile:
                raise TileError(f"{tile.path()} is not a tile of a tree of {size}")
            self._tiles[(tile.level, tile.index)] = data

    def hash_at(self, level: int, index: int) -> bytes:
        """The hash of the complete node `(level, index)`."""
        _check_node((level, index), self.size)
        tile_level, tile_index, height = _tile_coordinates((level, index))
        data = self._tiles.get((tile_level, tile_index))
        if data is None:
            raise KeyError(
                f"tile {tile_level}/{tile_index} holding node {level}/{index} is missing"
            )
        first = (index << height) % TILE_WIDTH
        hashes = [
            data[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(first, first + (1 << height))
        ]
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]
