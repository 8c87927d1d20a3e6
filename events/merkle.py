"""RFC 9162 §2.1 Merkle trees over the log's leaf hashes: roots, proofs, verification.

Stored nodes are named `(level, index)`: the hash of the complete subtree over the leaves
`[index * 2**level, (index + 1) * 2**level)`, level 0 being the leaf hashes themselves
(table `merkle_nodes(level, idx, hash)`). Every subtree an RFC 9162 proof needs is a run
of such complete subtrees, so any root or proof costs O(log n) node lookups.

To read them in one query, ask `nodes_needed_for_inclusion` / `_for_consistency` /
`_for_root` which nodes a proof needs, fetch them, and pass `node_source(fetched)` as
`get_node` to `inclusion_proof` / `consistency_proof` / `subtree_root`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from events.errors import ProofError
from events.hashing import leaf_hash

__all__ = [
    "EMPTY_ROOT",
    "GetNode",
    "MerkleBuilder",
    "Node",
    "ProofError",
    "StoredNode",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "node_source",
    "nodes_needed_for_consistency",
    "nodes_needed_for_inclusion",
    "nodes_needed_for_root",
    "root_from_leaves",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

#: `(level, index)` of a complete subtree.
Node = tuple[int, int]
#: `(level, index, hash)`: a complete subtree to store.
StoredNode = tuple[int, int, bytes]
#: Returns the hash of the complete subtree `(level, index)`.
GetNode = Callable[[int, int], bytes]

#: The root of the empty tree: SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_HASH_SIZE = 32


def node_hash(left: bytes, right: bytes) -> bytes:
    """`SHA-256(0x01 || left || right)`."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head over `leaf_hashes` (already `leaf_hash`ed), in O(n)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Pairing level by level and carrying an odd last node up unchanged builds exactly the
    # RFC 9162 tree (left subtree = largest power of two below the size).
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (>= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees, left to right, whose run is the tree over [start, end)."""
    nodes: list[Node] = []
    size = end - start
    if size < 0:
        raise ValueError(f"empty or reversed range [{start}, {end})")
    while size:
        level = size.bit_length() - 1
        width = 1 << level
        if start % width:
            raise ValueError(f"[{start}, {end}) is not a subtree of any RFC 9162 tree")
        nodes.append((level, start >> level))
        start += width
        size -= width
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a run of complete subtrees (largest first): fold from the right."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def subtree_root(start: int, end: int, get_node: GetNode) -> bytes:
    """MTH of the leaves [start, end), where `start` is aligned as in an RFC 9162 tree.

    `subtree_root(0, n, get_node)` is the root of the tree of size n. O(log n) lookups.
    """
    return _fold([get_node(level, index) for level, index in _range_nodes(start, end)])


def nodes_needed_for_root(size: int) -> list[Node]:
    """The nodes `subtree_root(0, size, ...)` reads: the frontier of a tree of `size`."""
    return _range_nodes(0, size)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make PATH(index, D[0:size]), leaf upwards."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make PROOF(m, D[0:n]) (RFC 9162 §2.1.4.1)."""
    if old_size == new_size:
        return []
    if not 0 < old_size < new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    ranges: list[tuple[int, int]] = []
    start, end, whole_old_tree = 0, new_size, True
    # SUBPROOF(m, D[start:end], b), unrolled; `old_size` stays an absolute leaf count.
    while old_size != end:
        middle = start + _split(end - start)
        if old_size <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _nodes_of(ranges: Iterable[tuple[int, int]]) -> list[Node]:
    return [node for start, end in ranges for node in _range_nodes(start, end)]


def nodes_needed_for_inclusion(index: int, size: int) -> list[Node]:
    """The nodes `inclusion_proof(index, size, ...)` reads (O(log n), no duplicates)."""
    return _nodes_of(_inclusion_ranges(index, size))


def nodes_needed_for_consistency(old_size: int, new_size: int) -> list[Node]:
    """The nodes `consistency_proof(old_size, new_size, ...)` reads."""
    return _nodes_of(_consistency_ranges(old_size, new_size))


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """The audit path of leaf `index` (0-based) in the tree of `size` (RFC 9162 §2.1.3.1)."""
    return [subtree_root(a, b, get_node) for a, b in _inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """The proof that the tree of `old_size` is a prefix of that of `new_size` (§2.1.4.1).

    Empty when the sizes are equal; `ValueError` unless `0 < old_size <= new_size`.
    """
    return [subtree_root(a, b, get_node) for a, b in _consistency_ranges(old_size, new_size)]


def node_source(nodes: Mapping[Node, bytes]) -> GetNode:
    """A `get_node` over nodes fetched in advance (e.g. `nodes_needed_for_*` in one query)."""

    def get_node(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise KeyError(f"merkle node (level {level}, index {index}) was not fetched") from None

    return get_node


class MerkleBuilder:
    """The frontier of a growing tree: append leaves in order, get the nodes to store.

    The frontier is the complete subtrees of the binary decomposition of the size, so it
    holds O(log n) hashes and resumes from stored nodes with `resume`.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._size = 0
        # Hashes of `nodes_needed_for_root(size)`, largest subtree first.
        self._frontier: list[bytes] = []

    @classmethod
    def resume(cls, size: int, get_node: GetNode) -> MerkleBuilder:
        """The builder of a tree of `size` whose nodes are stored (O(log n) lookups)."""
        return cls.from_frontier(
            size, [get_node(level, index) for level, index in nodes_needed_for_root(size)]
        )

    @classmethod
    def from_frontier(cls, size: int, hashes: Sequence[bytes]) -> MerkleBuilder:
        """The builder from the hashes of `nodes_needed_for_root(size)`, in that order."""
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has a frontier of {size.bit_count()} nodes")
        builder = cls()
        builder._size = size
        builder._frontier = list(hashes)
        return builder

    @property
    def size(self) -> int:
        """How many leaves the tree has."""
        return self._size

    def append(self, leaf: bytes) -> list[StoredNode]:
        """Add the next leaf hash; the complete subtrees it completes, leaf first."""
        index = self._size
        frontier = self._frontier
        new: list[StoredNode] = [(0, index, leaf)]
        current = leaf
        level = 0
        position = index
        # Each trailing 1 bit of the old size is a frontier subtree the new leaf completes.
        while position & 1:
            current = node_hash(frontier.pop(), current)
            level += 1
            position >>= 1
            new.append((level, position, current))
        frontier.append(current)
        self._size = index + 1
        return new

    def extend(self, leaves: Iterable[bytes]) -> list[StoredNode]:
        """`append` each leaf; all the new nodes."""
        new: list[StoredNode] = []
        for leaf in leaves:
            new.extend(self.append(leaf))
        return new

    def root(self) -> bytes:
        """The current tree head (O(log n))."""
        return _fold(self._frontier)

    def frontier(self) -> list[StoredNode]:
        """The stored nodes this builder would `resume` from."""
        return [
            (level, index, digest)
            for (level, index), digest in zip(
                nodes_needed_for_root(self._size), self._frontier, strict=True
            )
        ]


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, digest in enumerate(proof):
        if len(digest) != _HASH_SIZE:
            raise ProofError(f"proof element {i} is {len(digest)} bytes, not {_HASH_SIZE}")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check `proof` puts leaf hash `leaf` at `index` in the tree `root` of `size` (§2.1.3.2).

    Raises `ProofError`.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    if len(leaf) != _HASH_SIZE or len(root) != _HASH_SIZE:
        raise ProofError(f"leaf hash and root must be {_HASH_SIZE} bytes")
    _check_hashes(proof)
    fn, sn = index, size - 1
    computed = leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            # A right-edge node with no right sibling moves up unchanged.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if computed != root:
        raise ProofError(f"inclusion proof of leaf {index} does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check `proof` shows the tree `old_root` is a prefix of `new_root` (§2.1.4.2).

    Raises `ProofError`.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency from size {old_size} to {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for size {old_size}")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("the root of the empty tree is SHA-256 of the empty string")
        return
    if old_size == 0:
        raise ProofError("every tree extends the empty tree: no proof from size 0")
    if not proof:
        raise ProofError("a proof between different sizes cannot be empty")
    _check_hashes(proof)
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one: its root starts the path.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            old_computed = node_hash(sibling, old_computed)
            new_computed = node_hash(sibling, new_computed)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_computed = node_hash(new_computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if old_computed != old_root:
        raise ProofError(f"consistency proof does not lead to the root of size {old_size}")
    if new_computed != new_root:
        raise ProofError(f"consistency proof does not lead to the root of size {new_size}")
