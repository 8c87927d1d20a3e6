"""Check a Docket log with nothing but the bundle, a checkpoint and the public key.

An independent verifier: it imports nothing from Docket, only the standard library,
`cryptography` (Ed25519) and `rfc8785` (canonical JSON), so an auditor can read every line
of what they are trusting. See docs/VERIFYING.md.

    python check_log.py checkpoint.note log.key [--bundle docket-log.jsonl]
                        [--inclusion proof.json] [--consistency proof.json]
    python check_log.py receipt receipt.json log.key [--witness witness.key ...]
                        [--quorum K]

Exit status 0 when everything given verifies, 1 naming what does not; for a receipt, 2
when it verifies but shows events no checkpoint covers yet (NOT YET VERIFIED).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


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
    body = signed_text(note, key, "checkpoint")
    origin, size, root = body.splitlines()[:3]
    print(f"checkpoint: {origin}, size {size}, signature valid")
    return int(size), base64.b64decode(root)


def signed_text(note: str, key: str, what: str) -> str:
    """The text of a C2SP signed note, once its Ed25519 signature by `key` checks out."""
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
                raise Failed(f"the {what}'s signature does not verify") from None
            return body
    raise Failed(f"the {what} carries no signature by {name}")


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
            if "salt" not in event:
                raise Failed(
                    f"position {position}: no salt, so the bundle is in the old canonical "
                    "form v1; this checker reads form v2 (SPEC §4): ask for a new export"
                )
            leaf = leaf_hash_v2(event)
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


# -- receipts (SPEC §6.2): disclosed events, their proofs, a cosigned checkpoint -------------

#: the members of an event's disclosed form: c(e) of canonical form v2
DISCLOSED = [
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "data",
    "sealed",
]


#: SPEC §7.1: the clear fields of `data` by (event type, schema version); every other
#: field, and all of `metadata`, is sealed. Written out here so that this file needs
#: nothing of Docket (a test holds it equal to Docket's table).
CLEAR_FIELDS_V2: dict[tuple[str, int], set[str]] = {
    ("MemberSeated", 1): {"member", "term_start", "term_end"},
    ("MemberDeparted", 1): {"member", "on"},
    ("RequestSubmitted", 1): {
        "request_id", "applicant", "channel", "title", "items", "urgent",
        "requested_validity_months", "disclosure",
    },
    ("RequestCirculated", 1): {"procedure"},
    ("HoldPlaced", 1): {"procedure"},
    ("HoldReleased", 1): {"procedure"},
    ("HoldLapsed", 1): {"procedure"},
    ("InformationRequested", 1): {"procedure"},
    ("InformationProvided", 1): {"procedure"},
    ("ReviewStepRecorded", 1): {"procedure"},
    ("ExemptionApproved", 1): {
        "procedure", "valid_from", "valid_until", "letter_ref", "shipments_allowed",
    },
    ("ExemptionRefused", 1): {"procedure"},
    ("ExtensionRefused", 1): {"procedure"},
    ("AmendmentRefused", 1): {"procedure"},
    ("RequestWithdrawn", 1): {"procedure"},
    ("ExtensionRequested", 1): {"procedure", "requested_until"},
    ("ExtensionGranted", 1): {"procedure", "valid_until"},
    ("AmendmentRequested", 1): {"procedure", "items"},
    ("AmendmentApproved", 1): {"procedure", "items"},
    ("ShipmentRecorded", 1): {"shipment_no", "shipped_on"},
    ("EntryAnnotated", 1): {"target_position"},
    ("EventRetracted", 1): {"target_position"},
    ("ErasureRecorded", 1): {"positions", "decided_by"},
}  # fmt: skip


def leaf_hash_v2(event: dict[str, Any]) -> bytes:
    """The leaf of an event given whole (an export line, with its `salt`), canonical form
    v2: the disclosed form holds the clear fields of `data` and
    `sealed = SHA-256(salt bytes || JCS({"data": <the other fields>, "metadata": ...}))`.
    An erased event (SPEC §4 "Erasure": a null `salt`, markers in place of its sealed
    values) is hashed from the `sealed` digest its line keeps; a line with a salt and a
    `sealed` must agree with it. (The bundle check; receipts give the disclosed form.)"""
    clear_names = CLEAR_FIELDS_V2.get((event["event_type"], event["schema_version"]), set())
    clear = {k: v for k, v in event["data"].items() if k in clear_names}
    sealed = {k: v for k, v in event["data"].items() if k not in clear_names}
    kept = event.get("sealed")
    if event["salt"] is None:
        if not isinstance(kept, str) or len(kept) != 64:
            raise Failed(f"position {event['position']}: erased, but no sealed digest kept")
        digest = kept
    else:
        salt = bytes.fromhex(event["salt"])
        if len(salt) != 32 or salt.hex() != event["salt"]:
            raise Failed(f"position {event['position']}: the salt is not 64 lowercase hex digits")
        digest = sha256(salt + rfc8785.dumps({"data": sealed, "metadata": event["metadata"]})).hex()
        if kept and kept != digest:
            raise Failed(
                f"position {event['position']}: the hash does not match the event"
                " (its sealed values do not hash to its `sealed`)"
            )
    form = {k: event[k] for k in DISCLOSED if k not in ("data", "sealed")}
    form["data"] = clear
    form["sealed"] = digest
    return sha256(b"\x00" + rfc8785.dumps(form))


def read_key(value: str) -> str:
    """A verifier key given as its text or as a file holding it."""
    path = Path(value)
    return path.read_text().strip() if "+" not in value and path.is_file() else value.strip()


def inclusion_root(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """The root an RFC 9162 inclusion proof leads to, or None if its length is wrong."""
    fn, sn, r = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = node(sibling, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, sibling)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def cosigners(note: str, witness_keys: list[str]) -> list[str]:
    """The witnesses with a valid C2SP cosignature/v1 line on the note (key type 0x04).

    The line is `— <name> base64(key id || 8-byte big-endian time || Ed25519 signature)`;
    the signature is over `cosignature/v1\\ntime <time>\\n` and the note's text."""
    body, _, lines = note.partition("\n\n")
    body += "\n"
    found = []
    for key in dict.fromkeys(k.strip() for k in witness_keys):  # each witness once
        name, key_id_hex, key_b64 = key.split("+", 2)
        raw = base64.b64decode(key_b64)
        if len(raw) != 33 or raw[0] != 0x04:
            raise Failed(f"witness key {name} is not a cosignature/v1 key (type byte 0x04)")
        key_id = sha256(name.encode() + b"\n" + raw)[:4]
        if key_id.hex() != key_id_hex:
            raise Failed(f"witness key {name}: its id does not match its name and bytes")
        for line in lines.splitlines():
            signer, _, blob = line.removeprefix("\u2014 ").partition(" ")
            signature = base64.b64decode(blob)
            if signer != name or len(signature) != 76 or signature[:4] != key_id:
                continue
            time = int.from_bytes(signature[4:12], "big")
            message = f"cosignature/v1\ntime {time}\n{body}".encode()
            try:
                Ed25519PublicKey.from_public_bytes(raw[1:]).verify(signature[12:], message)
            except InvalidSignature:
                continue
            found.append(name)
            break
    return found


def check_statement(receipt: dict[str, Any], log_key: str, origin: str, size: int) -> None:
    """The log's signed statement names exactly the receipt's proved events: of this log,
    this request and the checkpoint's size (SPEC §6.2 "Complete, not just true")."""
    body = signed_text(receipt["statement"], log_key, "statement")
    expected = [
        "docket.receipt-statement/v1",
        f"origin {origin}",
        f"request {receipt['request_id']}",
        f"size {size}",
    ]
    lines = body.splitlines()
    if lines[:4] != expected or len(lines) != 5 or lines[4].split(" ")[0] != "positions":
        raise Failed(f"the statement is not of this log, request and size: {lines[:4]}")
    named = [int(p) for p in lines[4].split(" ")[1:]]
    shown = sorted(event["position"] for event in receipt["events"])
    if named != shown:
        left_out = sorted(set(named) - set(shown))
        raise Failed(
            f"the log's statement names the public events at {named}, the receipt proves "
            f"{shown}: it leaves out {left_out}"
        )
    print(f"statement: the log names all {len(named)} public events up to size {size}")


def check_receipt(
    receipt: dict[str, Any], log_key: str, witness_keys: list[str], quorum: int
) -> None:
    """Every event of the receipt is in the tree the log signed and the witnesses cosigned,
    and they are all the public events the log's statement names."""
    size, root = check_checkpoint(receipt["checkpoint"], log_key)
    origin = receipt["checkpoint"].split("\n", 1)[0]
    if receipt["log"]["origin"] != origin:
        raise Failed(f"the receipt names log {receipt['log']['origin']}, the checkpoint {origin}")
    names = cosigners(receipt["checkpoint"], witness_keys)
    if len(names) < quorum:
        raise Failed(f"{len(names)} valid witness cosignatures, {quorum} required")
    print(f"cosignatures: {len(names)} of {len(witness_keys)} witnesses ({quorum} required)")
    stream = "request-" + receipt["request_id"]
    for event in receipt["events"]:
        where = f"event at position {event['position']} (stream version {event['stream_version']})"
        proof_fields = ("leaf_index", "inclusion_proof", "tlog_proof")
        if sorted(k for k in event if k not in proof_fields) != sorted(DISCLOSED):
            raise Failed(f"{where}: not a disclosed form")
        if event["stream_id"] != stream:
            raise Failed(f"{where}: of stream {event['stream_id']}, not {stream}")
        if event["leaf_index"] != event["position"] - 1:
            raise Failed(f"{where}: leaf_index is not position - 1")
        leaf = sha256(b"\x00" + rfc8785.dumps({k: event[k] for k in DISCLOSED}))
        path = [digest(p) for p in event["inclusion_proof"]]
        if not 0 <= event["leaf_index"] < size:
            raise Failed(f"{where}: not in a tree of {size}")
        if inclusion_root(leaf, event["leaf_index"], size, path) != root:
            raise Failed(f"{where}: the inclusion proof does not reach the signed root")
        spelled = "\n".join(
            ["c2sp.org/tlog-proof@v1", f"index {event['leaf_index']}"]
            + [base64.b64encode(digest(p)).decode() for p in event["inclusion_proof"]]
        )
        head, _, own = event["tlog_proof"].partition("\n\n")
        if (
            head != spelled
            or own.partition("\n\n")[0] != receipt["checkpoint"].partition("\n\n")[0]
        ):
            raise Failed(f"{where}: its tlog_proof is not its index, proof and checkpoint")
        print(f"event: position {event['position']}, {event['event_type']}, in the signed tree")
    check_statement(receipt, log_key, origin, size)
    for event in receipt["pending"]:
        if event["position"] <= size:
            raise Failed(f"pending event at position {event['position']} is covered yet unproven")
    print(f"receipt of {receipt['request_id']}: {len(receipt['events'])} events verified")
    for event in receipt["pending"]:
        print(f"NOT YET VERIFIED: position {event['position']}, {event['event_type']}")
    if receipt["pending"]:
        print(f"pending: {len(receipt['pending'])} events not yet under a checkpoint")


def receipt_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="check_log.py receipt", description="Check a receipt.")
    parser.add_argument("receipt", type=Path)
    parser.add_argument("key", help="the log's verifier key, or a file holding it")
    parser.add_argument("--witness", action="append", default=[], help="a witness key (or file)")
    parser.add_argument("--quorum", type=int, default=None, help="default: every witness")
    args = parser.parse_args(argv)
    witnesses = [read_key(w) for w in args.witness]
    quorum = len(witnesses) if args.quorum is None else args.quorum
    try:
        receipt = json.loads(args.receipt.read_text())
        check_receipt(receipt, read_key(args.key), witnesses, quorum)
        if receipt["pending"]:
            return 2
    except Failed as failed:
        print(f"FAILED: {failed}")
        return 1
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        print(f"FAILED: the receipt is malformed ({type(error).__name__}: {error})")
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["receipt"]:
        return receipt_main(argv[1:])
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
