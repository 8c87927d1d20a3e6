"""A C2SP tlog-policy reader and quorum evaluator written from the C2SP texts alone
(tlog-policy, signed-note's verifier keys, tlog-checkpoint, tlog-cosignature), importing
nothing of Docket, so that the policy Docket serves is read by code that did not write it.

`parse(data)` returns a `Policy` or raises `Refused` naming the rule broken;
`verdict(policy, note)` says whether a checkpoint note is signed by one of the policy's logs
and cosigned by witnesses meeting its quorum. Ed25519 log signatures (type 0x01) and
Ed25519 cosignature/v1 (type 0x04) are checked; a witness of another signature type counts
as not having cosigned (this checker does not implement it).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Refused(Exception):
    """The policy (or the note) breaks a rule of the texts."""


@dataclass(frozen=True)
class Vkey:
    text: str
    name: str
    key_id: bytes
    kind: int
    key: bytes


@dataclass
class Policy:
    logs: list[Vkey] = field(default_factory=list)
    witnesses: dict[bytes, tuple[bytes, Vkey]] = field(default_factory=dict)  # name -> key
    groups: dict[bytes, tuple[int, list[bytes]]] = field(default_factory=dict)
    quorum: bytes | None = None


def vkey(text: bytes) -> Vkey:
    """signed-note: `<name>+<hex key id>+<base64(type || key)>`, the key id being the first
    4 bytes of SHA-256(name || 0x0A || type || key)."""
    try:
        decoded = text.decode()
        name, key_id, encoded = decoded.split("+", 2)  # a key name has no "+"
        raw = base64.b64decode(encoded, validate=True)
    except (UnicodeDecodeError, ValueError) as error:
        raise Refused(f"malformed vkey {text[:40]!r}: {error}") from None
    if not name or not re.fullmatch(r"[0-9a-f]{8}", key_id) or len(raw) < 2:
        raise Refused(f"malformed vkey {decoded[:40]!r}")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_id:
        raise Refused(f"vkey {name}: key id does not match")
    return Vkey(decoded, name, bytes.fromhex(key_id), raw[0], raw[1:])


def parse(data: bytes) -> Policy:
    """tlog-policy: octets, lines of log / witness / group / quorum, comments and blanks."""
    for octet in data:
        if octet not in (0x09, 0x0A) and (octet < 0x20 or octet == 0x7F):
            raise Refused(f"control character {octet:#04x}")
    policy = Policy()
    names: set[bytes] = {b"none"}
    member_keys: set[bytes] = set()
    for number, line in enumerate(data.split(b"\n"), start=1):
        words = re.split(rb"[ \t]+", line.strip(b" \t"))
        if words == [b""] or words[0].startswith(b"#"):
            continue
        verb, args = words[0], words[1:]
        where = f"line {number}"
        if verb == b"log":
            if len(args) not in (1, 2):
                raise Refused(f"{where}: log <vkey> [<url>]")
            key = vkey(args[0])
            if key.key in {k.key for k in policy.logs}:
                raise Refused(f"{where}: duplicate log")
            policy.logs.append(key)
        elif verb == b"witness":
            if len(args) not in (2, 3):
                raise Refused(f"{where}: witness <name> <vkey> [<url>]")
            name, key = args[0], vkey(args[1])
            if name in names:
                raise Refused(f"{where}: name {name!r} defined twice")
            if key.key in member_keys:
                raise Refused(f"{where}: duplicate witness")
            names.add(name)
            member_keys.add(key.key)
            policy.witnesses[name] = (name, key)
        elif verb == b"group":
            if len(args) < 3:
                raise Refused(f"{where}: group <name> <k|all|any> <name>...")
            name, k, members = args[0], args[1], args[2:]
            if name in names:
                raise Refused(f"{where}: name {name!r} defined twice")
            if len(set(members)) != len(members):
                raise Refused(f"{where}: a member listed twice")
            for member in members:
                if member == b"none" or member not in names:
                    raise Refused(f"{where}: member {member!r} not defined before")
            if k == b"all":
                threshold = len(members)
            elif k == b"any":
                threshold = 1
            elif re.fullmatch(rb"[1-9][0-9]*", k) and int(k) <= len(members):
                threshold = int(k)
            else:
                raise Refused(f"{where}: threshold {k!r} not in 1..{len(members)}")
            names.add(name)
            policy.groups[name] = (threshold, list(members))
        elif verb == b"quorum":
            if len(args) != 1:
                raise Refused(f"{where}: quorum <name>")
            if policy.quorum is not None:
                raise Refused(f"{where}: a second quorum line")
            if args[0] not in names:
                raise Refused(f"{where}: quorum {args[0]!r} not defined before")
            policy.quorum = args[0]
        else:
            raise Refused(f"{where}: unknown line {verb!r}")
    if policy.quorum is None:
        raise Refused("no quorum line")
    return policy


def _note(note: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise Refused("not a signed note")
    lines = []
    for line in note[cut + 2 : -1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Refused("a malformed signature line")
        name, _, blob = line[2:].rpartition(" ")
        lines.append((name, base64.b64decode(blob)))
    return note[: cut + 1].encode(), lines


def cosigners(policy: Policy, note: str) -> set[bytes]:
    """The policy names of the witnesses with a valid cosignature/v1 line on `note`, once the
    note is found signed by one of the policy's logs (whose name is its origin)."""
    text, signatures = _note(note)
    origin = text.split(b"\n", 1)[0].decode()
    logged = False
    for log in policy.logs:
        if log.kind != 0x01 or log.name != origin:
            continue
        for signer, blob in signatures:
            if signer == log.name and blob[:4] == log.key_id:
                try:
                    Ed25519PublicKey.from_public_bytes(log.key).verify(blob[4:], text)
                    logged = True
                except InvalidSignature:
                    raise Refused("a bad log signature") from None
    if not logged:
        raise Refused("signed by no log of the policy")
    done = set()
    for name, key in policy.witnesses.values():
        if key.kind != 0x04:
            continue
        for signer, blob in signatures:
            if signer != key.name or blob[:4] != key.key_id or len(blob) != 4 + 8 + 64:
                continue
            stamp = int.from_bytes(blob[4:12], "big")
            message = b"cosignature/v1\ntime " + str(stamp).encode() + b"\n" + text
            try:
                Ed25519PublicKey.from_public_bytes(key.key).verify(blob[12:], message)
                done.add(name)
            except InvalidSignature:
                pass
    return done


def met(policy: Policy, cosigned: set[bytes]) -> bool:
    """Whether witnesses of these names having cosigned meet the quorum (k of n members)."""

    def witnessed(name: bytes) -> bool:
        if name == b"none":
            return True
        if name in policy.groups:
            threshold, members = policy.groups[name]
            return sum(witnessed(m) for m in members) >= threshold
        return name in cosigned

    assert policy.quorum is not None
    return witnessed(policy.quorum)


def verdict(policy: Policy, note: str) -> bool:
    return met(policy, cosigners(policy, note))
