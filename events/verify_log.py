"""`docket verify`: the hash chain, the Merkle tree, and every stored checkpoint.

One pass over the log recomputes every leaf and chain hash and the tree root at each
checkpoint's size; then each checkpoint's signature, its root against the log's, the
stored tree against the recomputed one, and consistency between successive checkpoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from events import merkle
from events.checkpoints import verify_checkpoint
from events.log_tree import LogTree, TreeError
from events.store import EventStore
from events.verify_chain import ChainReport, verify_store_chain

EMPTY = merkle.EMPTY_ROOT


@dataclass(frozen=True, slots=True)
class LogReport:
    chain: ChainReport
    checkpoints: int = 0
    tree_size: int = 0
    root: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.failures


async def verify_log(
    store: EventStore,
    verifier_key: str | None,
    progress: Callable[[int], None] | None = None,
) -> LogReport:
    """Verify the whole log; the first failures are named in the report."""
    tree = LogTree(store)
    stored = await tree.checkpoints()
    stored_size = await tree.size()
    wanted = {cp.tree_size for cp in stored} | {stored_size}
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    # The tree's frontier (`MerkleBuilder`'s), kept inline: one call per leaf, no nodes kept.
    frontier: list[bytes] = []
    size = 0
    sha256 = hashlib.sha256

    def root() -> bytes:
        return merkle.MerkleBuilder.from_frontier(size, frontier).root() if size else EMPTY

    def on_leaf(position: int, leaf: bytes) -> None:
        nonlocal size
        completed = size
        current = leaf
        while completed & 1:
            current = sha256(b"\x01" + frontier.pop() + current).digest()
            completed >>= 1
        frontier.append(current)
        size += 1
        if position in wanted:
            roots[position] = root()

    chain = await verify_store_chain(store, on_leaf=on_leaf, progress=progress)
    if not chain.ok:
        return LogReport(chain)
    failures: list[str] = []
    if stored_size > chain.head_position:
        failures.append(
            f"the stored tree covers {stored_size} events, the log {chain.head_position}"
        )
    elif stored_size and (await tree.root(stored_size)) != roots[stored_size]:
        failures.append(f"the stored Merkle tree of size {stored_size} differs from the log's")
    previous = None
    for cp in stored:
        where = f"checkpoint of tree size {cp.tree_size}"
        if cp.tree_size > chain.head_position:
            failures.append(f"{where} is beyond the log's {chain.head_position} events")
            continue
        if roots[cp.tree_size].hex() != cp.root:
            failures.append(
                f"{where}: the log's root is {roots[cp.tree_size].hex()}, the signed root "
                f"{cp.root}; an event at or before position {cp.tree_size} was rewritten"
            )
        if verifier_key is not None:
            try:
                signed = verify_checkpoint(cp.note, verifier_key)
            except ValueError as error:
                failures.append(f"{where}: signature does not verify ({error})")
            else:
                if signed.size != cp.tree_size or signed.root.hex() != cp.root:
                    failures.append(f"{where}: the signed note differs from the stored row")
        if previous is not None and not failures:
            try:
                old, new, proof = await tree.consistency(previous, cp.tree_size)
                merkle.verify_consistency(previous, cp.tree_size, old, new, proof)
            except (TreeError, merkle.ProofError) as error:
                failures.append(f"{where} is not consistent with size {previous}: {error}")
        previous = cp.tree_size
    return LogReport(
        chain,
        checkpoints=len(stored),
        tree_size=chain.head_position,
        root=root().hex(),
        failures=failures,
    )
