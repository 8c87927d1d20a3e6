"""Clear and sealed fields (SPEC §7.1), and the canonical form v2 built on them (SPEC §4).

The table below is the one place that says which fields of an event's `data` are
**clear**: it drives the hashing split (the leaf commits to the clear fields as they are
and to the sealed ones only through `sealed`) and the public redaction (`public_fields`).
A field not listed for an event type is sealed; `metadata` is always sealed; an event
type or schema version not in the table has every field sealed, so a new type or version
stays private until someone writes its line here.

v2 canonical form of an event `e` with salt `s` (32 random bytes, stored as hex):

    sealed(e) = hex SHA-256(s || JCS({"data": <sealed fields>, "metadata": metadata}))
    c(e)      = JCS({position, event_id, stream_id, stream_version, event_type,
                     schema_version, occurred_at, recorded_at,
                     data: <clear fields>, sealed: sealed(e)})
    leaf(e)   = SHA-256(0x00 || c(e))

An erased event (SPEC §4 "Erasure") has lost its salt and its sealed values: the store
keeps `sealed(e)` beside its clear fields, and `c(e)` is computed from that kept digest
(an event given with no salt and its `sealed`). An event given with a salt and a kept
`sealed` must agree with it: a sealed value changed after it was written is refused.

`s` enters the hash as its 32 raw bytes (not its 64 hex characters): SPEC §4 defines the
salt as 32 random bytes and hex as how the column stores them. The object under `c(e)`
is the **disclosed form**: what a receipt shows of an event, from which anyone can
recompute its leaf without seeing a sealed value.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from events.canonical import canonical, dumps_plain, is_plain

__all__ = [
    "CLEAR_FIELDS",
    "DISCLOSED_FIELDS",
    "KEPT_ON_ERASURE",
    "SALT_BYTES",
    "canonical_stored",
    "canonical_v2",
    "clear_fields",
    "disclosed_form",
    "disclosed_leaf_hash",
    "erased_marker",
    "erased_values",
    "event_hashes_v2",
    "leaf_hash_v2",
    "new_salt",
    "public_fields",
    "sealed_digest",
    "split",
]

SALT_BYTES = 32

_PROCEDURE = frozenset({"procedure"})

#: SPEC §7.1, by `(event_type, schema_version)`: the clear fields of `data`.
CLEAR_FIELDS: Mapping[tuple[str, int], frozenset[str]] = {
    ("MemberSeated", 1): frozenset({"member", "term_start", "term_end"}),
    ("MemberDeparted", 1): frozenset({"member", "on"}),
    # sealed: sponsor, purpose, beneficiaries, justification
    ("RequestSubmitted", 1): frozenset(
        {
            "request_id",
            "applicant",
            "channel",
            "title",
            "items",
            "urgent",
            "requested_validity_months",
            "disclosure",
        }
    ),
    # sealed: deadline, expedited
    ("RequestCirculated", 1): _PROCEDURE,
    # sealed: who holds, releases, asks, answers, reviews, and every note and reason
    ("HoldPlaced", 1): _PROCEDURE,
    ("HoldReleased", 1): _PROCEDURE,
    ("HoldLapsed", 1): _PROCEDURE,
    ("InformationRequested", 1): _PROCEDURE,
    ("InformationProvided", 1): _PROCEDURE,
    ("ReviewStepRecorded", 1): _PROCEDURE,
    ("ExemptionApproved", 1): frozenset(
        {"procedure", "valid_from", "valid_until", "letter_ref", "shipments_allowed"}
    ),
    ("ExemptionRefused", 1): _PROCEDURE,
    ("ExtensionRefused", 1): _PROCEDURE,
    ("AmendmentRefused", 1): _PROCEDURE,
    ("RequestWithdrawn", 1): _PROCEDURE,
    ("ExtensionRequested", 1): frozenset({"procedure", "requested_until"}),
    ("ExtensionGranted", 1): frozenset({"procedure", "valid_until"}),
    ("AmendmentRequested", 1): frozenset({"procedure", "items"}),
    ("AmendmentApproved", 1): frozenset({"procedure", "items"}),
    ("ShipmentRecorded", 1): frozenset({"shipment_no", "shipped_on"}),
    ("EntryAnnotated", 1): frozenset({"target_position"}),
    ("EventRetracted", 1): frozenset({"target_position"}),
    # sealed: reason
    ("ErasureRecorded", 1): frozenset({"positions", "decided_by"}),
}

_NOTHING: frozenset[str] = frozenset()

#: The sealed fields an erasure keeps (SPEC §4 "Erasure"), by `(event_type,
#: schema_version)`: the committee's procedural facts that every fold rests on (which
#: member holds, reviews or asks; deadlines; the sponsor state), none of them personal.
#: Every other sealed field (names, notes, reasons, questions, answers, justifications,
#: purposes, beneficiaries) and all of `metadata` is replaced by the marker. The salt goes
#: too, so the kept values can no longer be checked against the digest, and the erased
#: ones cannot be guessed from it.
KEPT_ON_ERASURE: Mapping[tuple[str, int], frozenset[str]] = {
    ("RequestSubmitted", 1): frozenset({"sponsor"}),
    ("RequestCirculated", 1): frozenset({"deadline", "expedited"}),
    ("HoldPlaced", 1): frozenset({"member"}),
    ("HoldReleased", 1): frozenset({"member"}),
    ("HoldLapsed", 1): frozenset({"member", "cause"}),
    ("InformationRequested", 1): frozenset({"requested_by"}),
    ("ReviewStepRecorded", 1): frozenset({"step", "outcome", "member"}),
}

#: The members of the disclosed form, in SPEC §4's order.
DISCLOSED_FIELDS = (
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
)


def clear_fields(event_type: str, schema_version: int) -> frozenset[str]:
    """The clear fields of `data` for this type and version; every other field is sealed."""
    return CLEAR_FIELDS.get((event_type, schema_version), _NOTHING)


def public_fields(event_type: str, schema_version: int) -> frozenset[str]:
    """The fields of `data` the public may ever be shown (once the request is public, §7).

    The same set as `clear_fields`, by design: a field sealed in the log is never shown,
    and one shown is recomputable from a receipt."""
    return clear_fields(event_type, schema_version)


def split(
    event_type: str, schema_version: int, data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(clear, sealed)`: the fields of `data` on each side of the table; absent stay absent."""
    if not isinstance(data, Mapping):
        raise TypeError(f"data is a {type(data).__name__}, not a JSON object")
    clear_names = CLEAR_FIELDS.get((event_type, schema_version), _NOTHING)
    clear: dict[str, Any] = {}
    sealed: dict[str, Any] = {}
    for name, value in data.items():
        if name in clear_names:
            clear[name] = value
        else:
            sealed[name] = value
    return clear, sealed


def erased_marker(by: int) -> dict[str, Any]:
    """What a reader sees in place of an erased value: `{"erased": true, "by": P}`, P the
    position of the `ErasureRecorded` event (SPEC §4)."""
    return {"erased": True, "by": by}


def erased_values(
    event_type: str, schema_version: int, sealed: Mapping[str, Any], by: int
) -> dict[str, Any]:
    """The sealed part of an erased event's `data`: each sealed field with the marker in
    place of its value, but those `KEPT_ON_ERASURE`."""
    marker = erased_marker(by)
    kept = KEPT_ON_ERASURE.get((event_type, schema_version), _NOTHING)
    return {name: value if name in kept else marker for name, value in sealed.items()}


def new_salt() -> str:
    """32 bytes from the operating system's CSPRNG, as 64 lowercase hex characters."""
    return secrets.token_hex(SALT_BYTES)


_BAD_SALT = "a salt is 64 lowercase hex characters (32 bytes)"
_BAD_SEALED = "a kept sealed digest is 64 lowercase hex characters"
#: Why an event whose sealed values do not hash to its kept digest is refused.
SEAL_MISMATCH = "the sealed values' hash does not match the kept sealed digest"


def _kept_digest(event: Mapping[str, Any]) -> str | None:
    """The event's kept `sealed` digest if it has no salt (erased), None if it has one;
    ValueError if it has neither."""
    salt = event.get("salt")
    if salt:
        return None
    kept = event.get("sealed")
    if type(kept) is not str or len(kept) != 64 or kept.strip("0123456789abcdef"):
        raise ValueError(_BAD_SEALED if kept else _BAD_SALT)
    return kept


def _check_kept(event: Mapping[str, Any], digest: str) -> str:
    kept = event.get("sealed")
    if kept and kept != digest:
        raise ValueError(SEAL_MISMATCH)
    return digest


def _salt_bytes(salt_hex: str) -> bytes:
    # bytes.fromhex also takes upper case and spaces: the round trip keeps one spelling.
    if type(salt_hex) is not str or len(salt_hex) != 2 * SALT_BYTES:
        raise ValueError(_BAD_SALT)
    try:
        raw = bytes.fromhex(salt_hex)
    except ValueError:
        raise ValueError(_BAD_SALT) from None
    if len(raw) != SALT_BYTES or raw.hex() != salt_hex:
        raise ValueError(_BAD_SALT)
    return raw


def sealed_digest(
    salt_hex: str, sealed_data: Mapping[str, Any], metadata: Mapping[str, Any]
) -> str:
    """`hex SHA-256(salt || JCS({"data": sealed_data, "metadata": metadata}))`, salt raw."""
    digest = hashlib.sha256(_salt_bytes(salt_hex))
    digest.update(canonical({"data": sealed_data, "metadata": metadata}))
    return digest.hexdigest()


def disclosed_form(event: Mapping[str, Any]) -> dict[str, Any]:
    """The members of `c(e)` from an event given whole.

    `event` holds the event's fields as `/v1/events` and exports give them (times as UTC
    text, `event_id` as text) plus `salt`: `data` and `metadata` whole. The answer holds
    the clear fields of `data` and the `sealed` digest of the rest and of `metadata`
    (an erased event, with no salt: its kept `sealed`).
    """
    event_type = event["event_type"]
    schema_version = event["schema_version"]
    clear, sealed = split(event_type, schema_version, event["data"])
    kept = _kept_digest(event)
    digest = (
        kept
        if kept is not None
        else _check_kept(event, sealed_digest(event["salt"], sealed, event["metadata"]))
    )
    return {
        "position": event["position"],
        "event_id": event["event_id"],
        "stream_id": event["stream_id"],
        "stream_version": event["stream_version"],
        "event_type": event_type,
        "schema_version": schema_version,
        "occurred_at": event["occurred_at"],
        "recorded_at": event["recorded_at"],
        "data": clear,
        "sealed": digest,
    }


def canonical_v2(event: Mapping[str, Any], *, plain: bool = False) -> bytes:
    """`c(e)`: the RFC 8785 bytes of the event's disclosed form.

    The hot path of append, import and verify. `data` and `metadata` are walked once
    (as `canonical` would walk each part): when both are plain, the sealed part and the
    disclosed form go straight to orjson; otherwise both go through `canonical`. A caller
    that has already shown both plain (as the chain walk does from the stored JSON text:
    ASCII, no `\\u` escape, no number with a fraction) passes `plain=True` to skip the
    walk. The property tests hold it byte for byte to `rfc8785.dumps(disclosed_form(e))`.
    """
    data, metadata = event["data"], event["metadata"]
    if not event.get("salt"):
        return _canonical_erased(event)
    if plain or (type(data) is dict and is_plain(data) and is_plain(metadata)):
        try:
            return _canonical_plain(event, data, metadata)
        except (orjson.JSONEncodeError, TypeError, AttributeError):
            pass  # surrogates, big integers, odd envelope values: the reference decides
    return canonical(disclosed_form(event))


def canonical_stored(
    envelope: Mapping[str, Any],
    clear: Any,
    sealed: Any,
    metadata: Any,
    salt: str | None,
    kept: str,
    *,
    plain: bool = False,
) -> bytes:
    """`c(e)` of an event as the store keeps it: the clear fields of `events`, its kept
    digest `kept`, and (in `sealed_values`) its sealed fields, metadata and salt. The leaf
    commits to `clear` exactly as stored and to `kept`; with a salt, the sealed values
    must hash to `kept` (`SEAL_MISMATCH` otherwise); without one (erased) they are
    markers and are not looked at. `envelope` has the other members of `c(e)`; `plain`:
    every part already shown free of floats and odd strings (see `canonical_v2`)."""
    if salt:
        digest = None
        if plain:
            try:
                seal = _salt_bytes(salt) + dumps_plain({"data": sealed, "metadata": metadata})
                digest = hashlib.sha256(seal).hexdigest()
            except (orjson.JSONEncodeError, TypeError):
                pass  # big integers, surrogates: the reference decides
        if digest is None:
            digest = sealed_digest(salt, sealed, metadata)
        if digest != kept:
            raise ValueError(SEAL_MISMATCH)
    elif type(kept) is not str or len(kept) != 64 or kept.strip("0123456789abcdef"):
        raise ValueError(_BAD_SEALED)
    disclosed = {name: envelope[name] for name in DISCLOSED_FIELDS[:8]}
    disclosed["data"] = clear
    disclosed["sealed"] = kept
    if plain:
        try:
            return dumps_plain(disclosed)
        except (orjson.JSONEncodeError, TypeError):
            pass
    return canonical(disclosed)


def _canonical_erased(event: Mapping[str, Any]) -> bytes:
    """`c(e)` of an event without a salt (erased): its clear fields and kept digest."""
    disclosed = disclosed_form(event)
    clear = disclosed["data"]
    if (
        type(clear) is dict
        and is_plain(clear)
        and all(type(disclosed[name]) is str for name in _TEXT_MEMBERS)
        and all(type(disclosed[name]) is int for name in _INTEGER_MEMBERS)
    ):
        try:
            return dumps_plain(disclosed)
        except (orjson.JSONEncodeError, TypeError):
            pass
    return canonical(disclosed)


_TEXT_MEMBERS = ("event_id", "stream_id", "event_type", "occurred_at", "recorded_at")
_INTEGER_MEMBERS = ("position", "stream_version", "schema_version")


def _canonical_plain(event: Mapping[str, Any], data: Any, metadata: Any) -> bytes:
    position = event["position"]
    event_id = event["event_id"]
    stream_id = event["stream_id"]
    stream_version = event["stream_version"]
    event_type = event["event_type"]
    schema_version = event["schema_version"]
    occurred_at = event["occurred_at"]
    recorded_at = event["recorded_at"]
    # orjson would write a UUID, a datetime or a bool its own way; the reference refuses
    # the first two and keeps bools apart from integers.
    if not (
        type(position) is int
        and type(stream_version) is int
        and type(schema_version) is int
        and type(event_id) is str
        and type(stream_id) is str
        and type(event_type) is str
        and type(occurred_at) is str
        and type(recorded_at) is str
    ):
        raise TypeError("an envelope field of the wrong type")
    clear_names = CLEAR_FIELDS.get((event_type, schema_version), _NOTHING)
    clear: dict[str, Any] = {}
    sealed: dict[str, Any] = {}
    for name, value in data.items():
        if name in clear_names:
            clear[name] = value
        else:
            sealed[name] = value
    seal = _salt_bytes(event["salt"]) + dumps_plain({"data": sealed, "metadata": metadata})
    return dumps_plain(
        {
            "position": position,
            "event_id": event_id,
            "stream_id": stream_id,
            "stream_version": stream_version,
            "event_type": event_type,
            "schema_version": schema_version,
            "occurred_at": occurred_at,
            "recorded_at": recorded_at,
            "data": clear,
            "sealed": _check_kept(event, hashlib.sha256(seal).hexdigest()),
        }
    )


def leaf_hash_v2(event: Mapping[str, Any], *, plain: bool = False) -> bytes:
    """`SHA-256(0x00 || c(e))` of an event given whole (with its salt); `plain` as for
    `canonical_v2`."""
    return hashlib.sha256(b"\x00" + canonical_v2(event, plain=plain)).digest()


def disclosed_leaf_hash(disclosed: Mapping[str, Any]) -> bytes:
    """`SHA-256(0x00 || JCS(disclosed form))`: the leaf as a receipt's reader recomputes it."""
    return hashlib.sha256(b"\x00" + canonical(disclosed)).digest()


def event_hashes_v2(
    event: Mapping[str, Any], prev_hash: bytes, *, plain: bool = False
) -> tuple[bytes, bytes]:
    """The leaf hash and the chain hash `SHA-256(prev_hash || leaf)` of an event given
    whole (with its salt): what `events.hashing.event_hashes` is for canonical form v1."""
    leaf = hashlib.sha256(b"\x00" + canonical_v2(event, plain=plain)).digest()
    return leaf, hashlib.sha256(prev_hash + leaf).digest()
