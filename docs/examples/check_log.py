"""Check a Docket log with nothing but the bundle, a checkpoint and the public key.

An independent verifier: it imports nothing from Docket, only the standard library,
`cryptography` (Ed25519) and `rfc8785` (canonical JSON), so an auditor can read every line
of what they are trusting. See docs/VERIFYING.md.

    python check_log.py checkpoint.note log.key [--bundle docket-log.jsonl]
                        [--inclusion proof.json] [--consistency proof.json]

Exit status 0 when everything given verifies, 1 naming what does not.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

#: the fields of the canonical form c(e): everything but the two hashes
HASHED = [
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "occurred_at",
    "recorded_at",
]


class Failed(Exception):
    pass


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def digest(value: bytes | str) -> bytes:
    """A SHA-256 hash given as bytes or hex; anything but 32 bytes fails."""
    raw = bytes.fromhex(value) if isinstance(value, str) else value
    if len(raw) != 32:
        raise Failed(f"a hash of {len(raw)} bytes, not 32")
    return raw


# -- the checkpoint: a C2SP signed note --------------------------------------------------


def check_checkpoint(note: str, key: str) -> tuple[int, bytes]:
    """The (tree size, root) the note signs, once its Ed25519 signature checks out."""
    name, key_id_hex, key_b64 = key.strip().split("+", 2)
    raw = base64.b64decode(key_b64)
    if raw[0] != 0x01:
        raise Failed("the key is not an Ed25519 key (type byte 0x01)")
    key_id = sha256(name.encode() + b"\n" + raw)[:4]
    if key_id.hex() != key_id_hex:
        raise Failed("the key's id does not match its name and bytes")
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    for line in signatures.splitlines():
        signer, _, blob = line.removeprefix("\u2014 ").partition(" ")
        signature = base64.b64decode(blob)
        if signer == name and signature[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(raw[1:]).verify(signature[4:], body.encode())
            except InvalidSignature:
                raise Failed("the checkpoint's signature does not verify") from None
            origin, size, root = body.splitlines()[:3]
            print(f"checkpoint: {origin}, size {size}, signature valid")
            return int(size), base64.b64decode(root)
    raise Failed(f"the checkpoint carries no signature by {name}")


# -- the bundle: positions, hash chain, Merkle root ----------------------------------------


def check_bundle(path: Path, size: int, root: bytes) -> list[bytes]:
    """Every event's leaf hash, once the chain holds and the root at `size` is `root`."""
    leaves: list[bytes] = []
    chain = bytes(32)
    with path.open("rb") as lines:
        for position, line in enumerate(lines, start=1):
            event = json.loads(line)
            if event["position"] != position:
                raise Failed(f"position {position}: the bundle gives {event['position']}")
            leaf = sha256(b"\x00" + rfc8785.dumps({k: event[k] for k in HASHED}))
            if event["prev_hash"] != chain.hex():
                raise Failed(f"position {position}: prev_hash does not link to {position - 1}")
            chain = sha256(chain + leaf)
            if event["hash"] != chain.hex():
                raise Failed(f"position {position}: the hash does not match the event")
            leaves.append(leaf)
    if len(leaves) < size:
        raise Failed(f"the bundle holds {len(leaves)} events, the checkpoint signs {size}")
    if tree_root(leaves[:size]) != root:
        raise Failed(f"the Merkle root of the first {size} events is not the signed root")
    print(f"bundle: {len(leaves)} events, chain intact, root at size {size} matches")
    return leaves


def tree_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively: fine for the sizes an auditor checks by hand."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node(tree_root(leaves[:split]), tree_root(leaves[split:]))


# -- proofs: RFC 9162 §2.1.3.2 and §2.1.4.2 -----------------------------------------------


def check_inclusion(proof: dict[str, object], size: int, root: bytes) -> bytes:
    """The leaf hash the proof puts at its index in the signed tree."""
    index, tree_size = int(str(proof["leaf_index"])), int(str(proof["tree_size"]))
    if tree_size != size:
        raise Failed(f"the proof is for a tree of {tree_size}, the checkpoint signs {size}")
    if not 0 <= index < tree_size:
        raise Failed(f"leaf index {index} is not in a tree of {tree_size}")
    leaf, root = digest(str(proof["leaf_hash"])), digest(root)
    fn, sn, r = index, tree_size - 1, leaf
    for sibling in (digest(p) for p in proof["proof"]):  # type: ignore[attr-defined]
        if sn == 0:
            raise Failed("the inclusion proof is too long")
        if fn % 2 == 1 or fn == sn:
            r = node(sibling, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise Failed(f"the inclusion proof of position {index + 1} does not reach the root")
    print(f"inclusion: position {index + 1} is in the signed tree of {size}")
    return leaf


def check_consistency(proof: dict[str, object], size: int, root: bytes) -> None:
    """That the signed tree is a prefix of the newer tree the proof names."""
    first, second = int(str(proof["from"])), int(str(proof["to"]))
    if first != size or bytes.fromhex(str(proof["root_from"])) != root:
        raise Failed("the consistency proof does not start from the signed checkpoint")
    path = [digest(p) for p in proof["proof"]]  # type: ignore[attr-defined]
    if not 0 < first <= second:
        raise Failed(f"no consistency proof from {first} to {second}")
    if first == second:
        if path or str(proof["root_to"]) != root.hex():
            raise Failed("a proof between equal sizes is empty and the roots are equal")
        return
    root, second_root = digest(root), digest(str(proof["root_to"]))
    if not path:
        raise Failed("the consistency proof is empty")
    if first & (first - 1) == 0:  # a power of two: the old root is the first node
        path = [root, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Failed("the consistency proof is too long")
        if fn % 2 == 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != root or sr != second_root:
        raise Failed(f"the tree of {second} does not extend the signed tree of {first}")
    print(f"consistency: the tree of {second} extends the signed tree of {first}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("key", type=Path)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--inclusion", type=Path)
    parser.add_argument("--consistency", type=Path)
    args = parser.parse_args(argv)
    try:
        size, root = check_checkpoint(args.checkpoint.read_text(), args.key.read_text())
        leaves = check_bundle(args.bundle, size, root) if args.bundle else None
        if args.inclusion:
            proof = json.loads(args.inclusion.read_text())
            leaf = check_inclusion(proof, size, root)
            if leaves is not None and leaves[int(proof["leaf_index"])] != leaf:
                raise Failed("the proven leaf is not the bundle's event at that position")
        if args.consistency:
            check_consistency(json.loads(args.consistency.read_text()), size, root)
    except Failed as failed:
        print(f"FAILED: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
