"""C2SP tlog-tiles: paths, which tiles a tree has, tile bytes from stored nodes, and the
tree read back from tiles (by events.tiles and by a client written from the spec alone)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.merkle import (
    MerkleBuilder,
    consistency_proof,
    inclusion_proof,
    node_source,
    nodes_needed_for_consistency,
    nodes_needed_for_inclusion,
    nodes_needed_for_root,
    root_from_leaves,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)
from events.tiles import (
    Tile,
    TileError,
    TileHashes,
    parse_tile_path,
    tile_at,
    tile_bytes,
    tile_node_range,
    tile_root,
    tiles_for_nodes,
    tiles_of_tree,
)
from tests.tlog.tiles_client import TilesClient

SIZES = [1, 2, 3, 7, 255, 256, 257, 511, 512, 513, 1000, 65535, 65536, 65537, 70000]


def leaves(count: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(count)]


class Tree:
    """A tree's stored nodes, as the merkle_nodes table would hold them."""

    def __init__(self, size: int) -> None:
        self.leaves = leaves(size)
        builder = MerkleBuilder()
        self.nodes = {
            (level, index): digest for level, index, digest in builder.extend(self.leaves)
        }
        self.size = size
        self.root = builder.root()

    def hash_at(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def serve(self) -> Callable[[str], bytes]:
        served = {tile.path(): tile_bytes(tile, self.hash_at) for tile in tiles_of_tree(self.size)}
        return lambda path: served[path]


@pytest.fixture(scope="module")
def trees() -> dict[int, Tree]:
    return {size: Tree(size) for size in SIZES}


def fetched(size: int, fetch: Callable[[str], bytes], nodes: list[tuple[int, int]]) -> TileHashes:
    return TileHashes(size, {t: fetch(t.path()) for t in tiles_for_nodes(nodes, size)})


class TestPaths:
    @pytest.mark.parametrize(
        ("tile", "path"),
        [
            (Tile(0, 0), "tile/0/000"),
            (Tile(0, 5, 17), "tile/0/005.p/17"),
            (Tile(1, 999), "tile/1/999"),
            (Tile(2, 1000), "tile/2/x001/000"),
            (Tile(0, 1234067), "tile/0/x001/x234/067"),
            (Tile(63, 10**9, 255), "tile/63/x001/x000/x000/000.p/255"),
        ],
    )
    def test_round_trip(self, tile: Tile, path: str) -> None:
        assert tile.path() == path
        assert parse_tile_path(path) == tile

    @pytest.mark.parametrize(
        "path",
        [
            "tile/0/5",
            "tile/0/0005",
            "tile/00/000",
            "tile/64/000",
            "tile/0/x000/005",
            "tile/0/001/234",
            "tile/0/x001",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/010",
            "tile/0/000.p/",
            "0/000",
            "tile/entries/000",
            "tile/-1/000",
        ],
    )
    def test_other_spellings_are_refused(self, path: str) -> None:
        with pytest.raises(TileError):
            parse_tile_path(path)


class TestTilesOfATree:
    def test_the_spec_example_of_70000(self) -> None:
        tiles = tiles_of_tree(70000)
        level0 = [t for t in tiles if t.level == 0]
        assert sum(t.full for t in level0) == 273
        assert [t.width for t in level0 if not t.full] == [112]
        assert [(t.level, t.index, t.width) for t in tiles if t.level > 0] == [
            (1, 0, 256),
            (1, 1, 17),
            (2, 0, 1),
        ]

    def test_a_tree_of_256(self) -> None:
        assert tiles_of_tree(256) == [Tile(0, 0), Tile(1, 0, 1)]

    def test_empty_tree_has_no_tiles(self) -> None:
        assert tiles_of_tree(0) == []
        assert tile_at(0, 0, 0) is None

    def test_tile_at_matches_the_list(self) -> None:
        for size in SIZES:
            for tile in tiles_of_tree(size):
                assert tile_at(tile.level, tile.index, size) == tile
                assert tile.end() <= size
            assert tile_at(0, size // 256 + 1, size) is None

    def test_node_range(self) -> None:
        assert tile_node_range(Tile(0, 3)) == (0, 768, 1024)
        assert tile_node_range(Tile(2, 1, 5)) == (16, 256, 261)


class TestTilesReproduceTheTree:
    def test_roots(self, trees: dict[int, Tree]) -> None:
        for size, tree in trees.items():
            assert tree.root == root_from_leaves(tree.leaves)
            needed = tiles_for_nodes(nodes_needed_for_root(size), size)
            fetch = tree.serve()
            reader = TileHashes(size, {tile: fetch(tile.path()) for tile in needed})
            assert subtree_root(0, size, reader.hash_at) == tree.root

    def test_every_tile_checks_against_the_level_below(self, trees: dict[int, Tree]) -> None:
        tree = trees[70000]
        fetch = tree.serve()
        for tile in tiles_of_tree(70000):
            if tile.level == 0:
                continue
            data = fetch(tile.path())
            for i in range(tile.width):
                below = tile_at(tile.level - 1, tile.index * 256 + i, 70000)
                assert below is not None and below.full
                assert tile_root(below, fetch(below.path())) == data[32 * i : 32 * i + 32]

    def test_proofs(self, trees: dict[int, Tree]) -> None:
        for size, tree in trees.items():
            fetch = tree.serve()
            stored = node_source(tree.nodes)
            for index in sorted({0, 1, size // 2, size - 1} & set(range(size))):
                nodes = nodes_needed_for_inclusion(index, size)
                reader = TileHashes(
                    size, {t: fetch(t.path()) for t in tiles_for_nodes(nodes, size)}
                )
                proof = inclusion_proof(index, size, reader.hash_at)
                assert proof == inclusion_proof(index, size, stored)
                verify_inclusion(tree.leaves[index], index, size, proof, tree.root)
            for old in sorted({1, 2, 255, 256, size // 3, size - 1} & set(range(1, size))):
                nodes = nodes_needed_for_consistency(old, size)
                reader = TileHashes(
                    size, {t: fetch(t.path()) for t in tiles_for_nodes(nodes, size)}
                )
                proof = consistency_proof(old, size, reader.hash_at)
                assert proof == consistency_proof(old, size, stored)
                old_root = root_from_leaves(tree.leaves[:old])
                verify_consistency(old, size, old_root, tree.root, proof)

    def test_missing_or_wrong_tiles_are_named(self, trees: dict[int, Tree]) -> None:
        tree = trees[513]
        with pytest.raises(KeyError, match="tile 0/1"):
            TileHashes(513, {}).hash_at(0, 300)
        with pytest.raises(TileError, match="not complete"):
            TileHashes(513, {}).hash_at(9, 1)
        with pytest.raises(TileError, match="bytes"):
            TileHashes(513, {Tile(0, 0): b"short"})
        with pytest.raises(TileError, match="not a tile of a tree"):
            TileHashes(513, {Tile(0, 2, 2): tile_bytes(Tile(0, 2, 1), tree.hash_at) * 2})


class TestSpecClient:
    """A client that knows only the spec reads Docket's tiles."""

    def test_roots_and_proofs(self, trees: dict[int, Tree]) -> None:
        stored_sizes = [s for s in SIZES if s != 65535]
        for size in stored_sizes:
            tree = trees[size]
            client = TilesClient(tree.serve(), size)
            assert client.root() == tree.root
            stored = node_source(tree.nodes)
            for index in sorted({0, size // 2, size - 1}):
                assert client.leaf_hash(index) == tree.leaves[index]
                assert client.inclusion_path(index) == inclusion_proof(index, size, stored)
            for old in sorted({1, size // 2, size - 1} & set(range(1, size))):
                assert client.consistency_proof(old) == consistency_proof(old, size, stored)

    def test_fetches_only_paths_the_log_serves(self, trees: dict[int, Tree]) -> None:
        tree = trees[70000]
        served = {tile.path() for tile in tiles_of_tree(70000)}
        asked: list[str] = []
        fetch = tree.serve()

        def recording(path: str) -> bytes:
            asked.append(path)
            assert path in served
            return fetch(path)

        assert TilesClient(recording, 70000).root() == tree.root
        assert "tile/2/000.p/1" in asked


class TestLaws:
    """For any tree size, the tiles hold every hash a root or proof needs, and nothing else."""

    @staticmethod
    def check(size: int, index: int, old: int) -> None:
        tree = Tree(size)
        fetch = tree.serve()
        stored = node_source(tree.nodes)
        nodes = [
            *nodes_needed_for_root(size),
            *nodes_needed_for_inclusion(index, size),
            *nodes_needed_for_consistency(old, size),
        ]
        reader = fetched(size, fetch, nodes)
        assert subtree_root(0, size, reader.hash_at) == tree.root
        assert inclusion_proof(index, size, reader.hash_at) == inclusion_proof(index, size, stored)
        assert consistency_proof(old, size, reader.hash_at) == consistency_proof(old, size, stored)
        client = TilesClient(fetch, size)
        assert client.root() == tree.root
        assert client.inclusion_path(index) == inclusion_proof(index, size, stored)
        assert client.consistency_proof(old) == consistency_proof(old, size, stored)

    @given(st.data())
    @settings(max_examples=40, deadline=None)
    def test_any_size(self, data: st.DataObject) -> None:
        size = data.draw(st.integers(1, 3 * 256 + 7), label="size")
        index = data.draw(st.integers(0, size - 1), label="index")
        old = data.draw(st.integers(1, size), label="old")
        self.check(size, index, old)
