"""A log for witness tests: leaves, stored nodes, signed checkpoints, proofs."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import Signer
from events.merkle import MerkleBuilder, consistency_proof, node_source, subtree_root

ORIGIN = "docket.example.org/log"


class FakeLog:
    """A growing RFC 9162 tree under a signing key; `fork` shares the key and the past."""

    def __init__(
        self, key: Ed25519PrivateKey | None = None, origin: str = ORIGIN, salt: bytes = b"main"
    ) -> None:
        self.key = key or Ed25519PrivateKey.generate()
        self.signer = Signer(origin, self.key)
        self.origin = origin
        self.builder = MerkleBuilder()
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.salt = salt

    @property
    def size(self) -> int:
        return self.builder.size

    def vkey(self) -> str:
        return self.signer.verifier_key()

    def grow(self, count: int) -> FakeLog:
        for _ in range(count):
            leaf = hashlib.sha256(self.salt + self.size.to_bytes(8, "big")).digest()
            for level, index, digest in self.builder.append(leaf):
                self.nodes[(level, index)] = digest
        return self

    def fork(self) -> FakeLog:
        """Another log under the same key with the same leaves so far, diverging after."""
        other = FakeLog(self.key, self.origin)
        other.builder = MerkleBuilder.resume(self.size, node_source(self.nodes))
        other.nodes = dict(self.nodes)
        other.salt = b"fork"
        return other

    def root(self, size: int | None = None) -> bytes:
        return subtree_root(0, self.size if size is None else size, node_source(self.nodes))

    def checkpoint(self, size: int | None = None) -> str:
        size = self.size if size is None else size
        return self.signer.sign_checkpoint(self.origin, size, self.root(size))

    def proof(self, old: int, new: int) -> list[bytes]:
        if old == 0:
            return []
        return consistency_proof(old, new, node_source(self.nodes))

    async def async_proof(self, old: int, new: int) -> list[bytes]:
        return self.proof(old, new)
