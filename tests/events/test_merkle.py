"""RFC 9162 Merkle trees: published vectors, and proofs from stored nodes that verify."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.merkle import (
    EMPTY_ROOT,
    MerkleBuilder,
    ProofError,
    StoredNode,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    node_source,
    nodes_needed_for_consistency,
    nodes_needed_for_inclusion,
    nodes_needed_for_root,
    root_from_leaves,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "rfc6962"


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def vector_cases(kind: str) -> list[Any]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    assert files, f"no {kind} vectors under {VECTORS}"
    return [
        pytest.param(json.loads(f.read_text()), id=str(f.relative_to(VECTORS / kind)))
        for f in files
    ]


def leaves(count: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


def build(count: int) -> tuple[MerkleBuilder, dict[tuple[int, int], bytes]]:
    builder = MerkleBuilder()
    store: dict[tuple[int, int], bytes] = {}
    for level, index, digest in builder.extend(leaves(count)):
        assert (level, index) not in store, "a node is produced once"
        store[(level, index)] = digest
    return builder, store


class CountingSource:
    def __init__(self, store: dict[tuple[int, int], bytes]) -> None:
        self.store = store
        self.reads: list[tuple[int, int]] = []

    def __call__(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self.store[(level, index)]


class TestVectors:
    @pytest.mark.parametrize("case", vector_cases("inclusion"))
    def test_inclusion(self, case: dict[str, Any]) -> None:
        args = (
            b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            [b64(p) for p in case["proof"] or []],
            b64(case["root"]),
        )
        if case["wantErr"]:
            with pytest.raises(ProofError):
                verify_inclusion(*args)
        else:
            verify_inclusion(*args)

    @pytest.mark.parametrize("case", vector_cases("consistency"))
    def test_consistency(self, case: dict[str, Any]) -> None:
        args = (
            case["size1"],
            case["size2"],
            b64(case["root1"]),
            b64(case["root2"]),
            [b64(p) for p in case["proof"] or []],
        )
        if case["wantErr"]:
            with pytest.raises(ProofError):
                verify_consistency(*args)
        else:
            verify_consistency(*args)

    def test_tree_hashes(self) -> None:
        data = json.loads((VECTORS / "tree-hashes.json").read_text())
        inputs = [bytes.fromhex(h) for h in data["leaf_inputs_hex"]]
        hashes = [leaf_hash(x) for x in inputs]
        builder = MerkleBuilder()
        assert builder.root() == EMPTY_ROOT
        for size, want in enumerate(data["root_by_size_hex"]):
            assert root_from_leaves(hashes[:size]).hex() == want
            assert builder.size == size and builder.root().hex() == want
            if size < len(hashes):
                builder.append(hashes[size])

    def test_happy_vectors_are_what_we_generate(self) -> None:
        # The vectors' tree is the eight leaves of tree-hashes.json.
        data = json.loads((VECTORS / "tree-hashes.json").read_text())
        hashes = [leaf_hash(bytes.fromhex(h)) for h in data["leaf_inputs_hex"]]
        builder = MerkleBuilder()
        get = node_source({(lv, i): h for lv, i, h in builder.extend(hashes)})
        for f in sorted((VECTORS / "inclusion").glob("[1-9]*/happy-path.json")):
            case = json.loads(f.read_text())
            proof = inclusion_proof(case["leafIdx"], case["treeSize"], get)
            assert [base64.b64encode(p).decode() for p in proof] == case["proof"]
        for f in sorted((VECTORS / "consistency").glob("[1-9]*/happy-path.json")):
            case = json.loads(f.read_text())
            proof = consistency_proof(case["size1"], case["size2"], get)
            assert [base64.b64encode(p).decode() for p in proof] == case["proof"]


class TestMerkleBuilder:
    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 300))
    def test_root_equals_root_from_leaves(self, size: int) -> None:
        builder, store = build(size)
        assert builder.root() == root_from_leaves(leaves(size))
        assert subtree_root(0, size, node_source(store)) == builder.root()

    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 200), st.integers(0, 60))
    def test_resume_from_stored_nodes(self, first: int, more: int) -> None:
        _, store = build(first)
        resumed = MerkleBuilder.resume(first, node_source(store))
        full, full_store = build(first + more)
        new: list[StoredNode] = resumed.extend(leaves(first + more)[first:])
        store.update({(lv, i): h for lv, i, h in new})
        assert store == full_store
        assert resumed.root() == full.root()
        assert resumed.frontier() == full.frontier()

    def test_stores_only_complete_subtrees(self) -> None:
        _, store = build(11)
        # 11 leaves, 5 pairs, 2 quads, 1 octet.
        assert sorted(store) == sorted(
            [(0, i) for i in range(11)] + [(1, i) for i in range(5)] + [(2, 0), (2, 1), (3, 0)]
        )

    def test_frontier_size_is_checked(self) -> None:
        with pytest.raises(ValueError):
            MerkleBuilder.from_frontier(3, [EMPTY_ROOT])


class TestProofs:
    @settings(max_examples=200, deadline=None)
    @given(st.data())
    def test_inclusion_from_stored_nodes_verifies(self, data: st.DataObject) -> None:
        full = data.draw(st.integers(1, 260))
        size = data.draw(st.integers(1, full))
        index = data.draw(st.integers(0, size - 1))
        _, store = build(full)
        source = CountingSource(store)
        proof = inclusion_proof(index, size, source)
        root = root_from_leaves(leaves(size))
        verify_inclusion(leaves(size)[index], index, size, proof, root)
        assert source.reads == nodes_needed_for_inclusion(index, size)
        assert len(source.reads) <= 2 * size.bit_length()
        # Batched: fetch exactly the nodes named, assemble from the mapping.
        fetched = {node: store[node] for node in nodes_needed_for_inclusion(index, size)}
        assert inclusion_proof(index, size, node_source(fetched)) == proof
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
        if size > 1:
            with pytest.raises(ProofError):
                verify_inclusion(leaves(size)[index], index ^ 1, size, proof, root)

    @settings(max_examples=200, deadline=None)
    @given(st.data())
    def test_consistency_from_stored_nodes_verifies(self, data: st.DataObject) -> None:
        new_size = data.draw(st.integers(1, 260))
        old_size = data.draw(st.integers(1, new_size))
        _, store = build(new_size + data.draw(st.integers(0, 20)))
        source = CountingSource(store)
        proof = consistency_proof(old_size, new_size, source)
        old_root = root_from_leaves(leaves(old_size))
        new_root = root_from_leaves(leaves(new_size))
        verify_consistency(old_size, new_size, old_root, new_root, proof)
        assert source.reads == nodes_needed_for_consistency(old_size, new_size)
        assert len(source.reads) <= 2 * new_size.bit_length()
        if old_size < new_size:
            forged = node_hash(old_root, b"\x00" * 32)
            with pytest.raises(ProofError):
                verify_consistency(old_size, new_size, old_root, forged, proof)
            with pytest.raises(ProofError):
                verify_consistency(old_size, new_size, forged, new_root, proof)

    def test_root_nodes_are_the_frontier(self) -> None:
        assert nodes_needed_for_root(0) == []
        assert nodes_needed_for_root(13) == [(3, 0), (2, 2), (0, 12)]

    def test_unaligned_range_is_refused(self) -> None:
        _, store = build(8)
        with pytest.raises(ValueError):
            subtree_root(1, 3, node_source(store))

    def test_bad_arguments(self) -> None:
        _, store = build(8)
        with pytest.raises(ValueError):
            inclusion_proof(8, 8, node_source(store))
        with pytest.raises(ValueError):
            consistency_proof(0, 8, node_source(store))
        with pytest.raises(ValueError):
            consistency_proof(5, 4, node_source(store))
        assert consistency_proof(8, 8, node_source(store)) == []
        with pytest.raises(KeyError, match="level 9"):
            node_source({})(9, 0)
