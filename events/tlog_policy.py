"""C2SP `tlog-policy`: which logs and witnesses a verifier trusts, and the quorum.

A policy file is lines (items separated by ASCII spaces and tabs; blank lines and `#`
comments ignored):

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <name>...
    quorum <name>                      (exactly one; `none` asks for no cosignature)

A group or the quorum names only witnesses and groups defined on earlier lines; a name is
a group member at most once and 1 <= k <= n. Two vkeys wrapping the same public key are
duplicates, refused (whatever their names): one key is one witness, one vote. Log keys
are of signature type 0x01 (Ed25519) or 0x06 (ML-DSA-44); witness keys 0x04 (Ed25519
cosignature/v1) or 0x06 (ML-DSA-44).

Pure. `parse_policy` raises only `PolicyError` (numbers over 20 digits included).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations

from events.errors import PolicyError
from events.numbers import parse_decimal

__all__ = [
    "Policy",
    "PolicyError",
    "PolicyKey",
    "PolicyWitness",
    "parse_policy",
    "policy_text",
    "simple_policy",
]

#: Public key sizes by signature type (C2SP signed-note, tlog-cosignature).
_KEY_SIZES = {0x01: 32, 0x04: 32, 0x06: 1312}
_LOG_TYPES = (0x01, 0x06)
_WITNESS_TYPES = (0x04, 0x06)
#: Well beyond the 32 logs, witnesses and groups C2SP asks implementations to support.
_MAX_ENTRIES = 256
_MAX_BYTES = 1 << 20
_SPACE = re.compile(r"[ \t]+")
_NONE = "none"


@dataclass(frozen=True, slots=True)
class PolicyKey:
    """A vkey of the policy: its name, key id, signature type and public key bytes."""

    name: str
    key_id: bytes
    kind: int
    public_key: bytes
    text: str


@dataclass(frozen=True, slots=True)
class PolicyWitness:
    """A witness: its policy name, its vkey and, if given, its submission prefix URL."""

    name: str
    key: PolicyKey
    url: str | None = None


@dataclass(frozen=True, slots=True)
class _Group:
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy; `satisfied` evaluates its quorum."""

    logs: tuple[tuple[PolicyKey, str | None], ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: Mapping[str, _Group] = field(default_factory=dict)
    quorum: str = _NONE
    #: the group names in definition order (for writing the policy back out)
    group_order: tuple[str, ...] = ()

    def witness_named(self, key_name: str, key_id: bytes) -> str | None:
        """The policy name of the witness whose vkey has this key name and id."""
        for witness in self.witnesses:
            if witness.key.name == key_name and witness.key.key_id == key_id:
                return witness.name
        return None

    def satisfied(self, cosigned: Iterable[str]) -> bool:
        """Whether witnesses of these policy names having cosigned meet the quorum."""
        done = set(cosigned)

        def witnessed(name: str) -> bool:
            if name == _NONE:
                return True
            group = self.groups.get(name)
            if group is None:
                return name in done
            return sum(witnessed(m) for m in group.members) >= group.threshold

        return witnessed(self.quorum)

    def minimum(self) -> int:
        """The fewest cosignatures that can meet the quorum (a witness may be reached
        through several groups, so the subsets are tried, smallest first; beyond 16
        witnesses, 1 when any is needed: a lower bound, which is all its callers need)."""
        if self.satisfied(()):
            return 0
        names = [w.name for w in self.witnesses]
        if len(names) > 16:
            return 1
        for size in range(1, len(names) + 1):
            if any(self.satisfied(chosen) for chosen in combinations(names, size)):
                return size
        return len(names) + 1  # never met: no checkpoint is published

    def log_key(self, origin: str) -> PolicyKey | None:
        """The policy's key for the log of this origin (its vkey's name), if any."""
        return next((key for key, _ in self.logs if key.name == origin), None)


def _check_characters(data: bytes) -> None:
    for octet in data:
        if not (octet in (0x09, 0x0A) or 0x20 <= octet <= 0x7E or octet >= 0x80):
            raise PolicyError(f"the policy holds the control character {octet:#04x}")


def _vkey(text: str, kinds: tuple[int, ...], what: str) -> PolicyKey:
    parts = text.split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise PolicyError(f"{what}: a vkey is <name>+<hex key id>+<base64 key>")
    name, hex_id, encoded = parts
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise PolicyError(f"{what}: the key id is not 8 lowercase hex digits")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise PolicyError(f"{what}: the key is not base64") from None
    if not raw or raw[0] not in kinds or len(raw) - 1 != _KEY_SIZES[raw[0]]:
        allowed = ", ".join(f"{k:#04x}" for k in kinds)
        raise PolicyError(f"{what}: not a key of signature type {allowed}")
    try:
        prefix = name.encode() + b"\n"
    except UnicodeEncodeError:
        raise PolicyError(f"{what}: the key name is not text") from None
    if hashlib.sha256(prefix + raw).digest()[:4] != bytes.fromhex(hex_id):
        raise PolicyError(f"{what}: the key id does not match its name and key")
    return PolicyKey(name, bytes.fromhex(hex_id), raw[0], raw[1:], text)


def parse_policy(source: str | bytes) -> Policy:
    """Read a tlog-policy file. Raises `PolicyError`."""
    data = source.encode("utf-8", "surrogateescape") if isinstance(source, str) else source
    if len(data) > _MAX_BYTES:
        raise PolicyError(f"a policy file is at most {_MAX_BYTES:,} bytes")
    _check_characters(data)
    text = data.decode("utf-8", "surrogateescape")
    logs: list[tuple[PolicyKey, str | None]] = []
    witnesses: list[PolicyWitness] = []
    groups: dict[str, _Group] = {}
    order: list[str] = []
    names: set[str] = set()
    keys: dict[bytes, str] = {}
    quorum: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        items = [item for item in _SPACE.split(line.strip(" \t")) if item]
        if not items or items[0].startswith("#"):
            continue
        where = f"line {number}"
        if len(logs) + len(witnesses) + len(groups) > 3 * _MAX_ENTRIES:
            raise PolicyError(f"a policy defines at most {_MAX_ENTRIES} of each kind")
        keyword, args = items[0], items[1:]
        if keyword == "log":
            if len(args) not in (1, 2):
                raise PolicyError(f"{where}: log <vkey> [<url>]")
            key = _vkey(args[0], _LOG_TYPES, where)
            _once(keys, key, where)
            logs.append((key, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise PolicyError(f"{where}: witness <name> <vkey> [<url>]")
            _new_name(args[0], names, where)
            key = _vkey(args[1], _WITNESS_TYPES, where)
            _once(keys, key, where)
            witnesses.append(PolicyWitness(args[0], key, args[2] if len(args) == 3 else None))
        elif keyword == "group":
            if len(args) < 3:
                raise PolicyError(f"{where}: group <name> all|any|<k> <name>...")
            name, threshold, members = args[0], args[1], tuple(args[2:])
            for member in members:
                if member not in names:  # `none` and the group itself are never in it yet
                    raise PolicyError(
                        f"{where}: {member!r} is not a witness or group defined before"
                    )
            if len(set(members)) != len(members):
                raise PolicyError(f"{where}: a name is a member of a group at most once")
            if threshold == "all":
                k = len(members)
            elif threshold == "any":
                k = 1
            else:
                k = parse_decimal(threshold, f"{where}: the threshold", PolicyError)
            if not 1 <= k <= len(members):
                raise PolicyError(f"{where}: the threshold {k} is not within 1..{len(members)}")
            _new_name(name, names, where)
            groups[name] = _Group(k, members)
            order.append(name)
        elif keyword == "quorum":
            if len(args) != 1:
                raise PolicyError(f"{where}: quorum <name>")
            if quorum is not None:
                raise PolicyError(f"{where}: a policy has exactly one quorum line")
            if args[0] != _NONE and args[0] not in names:
                raise PolicyError(f"{where}: the quorum {args[0]!r} is not defined before it")
            quorum = args[0]
        else:
            raise PolicyError(f"{where}: unknown keyword {keyword[:40]!r}")
    if quorum is None:
        raise PolicyError("a policy has exactly one quorum line; this one has none")
    return Policy(tuple(logs), tuple(witnesses), groups, quorum, tuple(order))


def _new_name(name: str, names: set[str], where: str) -> None:
    if name == _NONE or name in names:
        raise PolicyError(f"{where}: the name {name[:80]!r} is predefined or defined already")
    names.add(name)


def _once(keys: dict[bytes, str], key: PolicyKey, where: str) -> None:
    if key.public_key in keys:
        raise PolicyError(
            f"{where}: the public key of {key.name[:80]!r} is listed already (as "
            f"{keys[key.public_key][:80]!r}): one key is one party, listed once"
        )
    keys[key.public_key] = key.name


def simple_policy(
    log_keys: Iterable[str], witnesses: Iterable[tuple[str, str | None]], quorum: int
) -> str:
    """The policy of `DOCKET_WITNESSES` + `DOCKET_WITNESS_QUORUM`: each witness (vkey and
    URL) under its key name, and a group of all of them with threshold `quorum`."""
    lines = [f"log {key}" for key in log_keys]
    names = []
    for vkey, url in witnesses:
        name = vkey.split("+", 1)[0]
        names.append(name)
        lines.append(f"witness {name} {vkey}" + (f" {url}" if url else ""))
    if quorum == 0 or not names:
        lines.append("quorum none")
    elif len(names) == 1:
        lines.append(f"quorum {names[0]}")
    else:
        lines.append(f"group witnesses {quorum} {' '.join(names)}")
        lines.append("quorum witnesses")
    return "\n".join(lines) + "\n"


def policy_text(policy: Policy, log_keys: Iterable[str] | None = None) -> str:
    """The policy written back out; `log_keys` in place of its own log lines if given."""
    if log_keys is None:
        lines = [f"log {key.text}" + (f" {url}" if url else "") for key, url in policy.logs]
    else:
        lines = [f"log {key}" for key in log_keys]
    for w in policy.witnesses:
        lines.append(f"witness {w.name} {w.key.text}" + (f" {w.url}" if w.url else ""))
    for name in policy.group_order:
        group = policy.groups[name]
        lines.append(f"group {name} {group.threshold} {' '.join(group.members)}")
    lines.append(f"quorum {policy.quorum}")
    return "\n".join(lines) + "\n"
