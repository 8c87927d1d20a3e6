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
    "SALT_BYTES",
    "canonical_v2",
    "clear_fields",
    "disclosed_form",
    "disclosed_leaf_hash",
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
}

_NOTHING: frozenset[str] = frozenset()

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


def new_salt() -> str:
    """32 bytes from the operating system's CSPRNG, as 64 lowercase hex characters."""
    return secrets.token_hex(SALT_BYTES)


_BAD_SALT = "a salt is 64 lowercase hex characters (32 bytes)"


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
    the clear fields of `data` and the `sealed` digest of the rest and of `metadata`.
    """
    event_type = event["event_type"]
    schema_version = event["schema_version"]
    clear, sealed = split(event_type, schema_version, event["data"])
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
        "sealed": sealed_digest(event["salt"], sealed, event["metadata"]),
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
    if plain or (type(data) is dict and is_plain(data) and is_plain(metadata)):
        try:
            return _canonical_plain(event, data, metadata)
        except (orjson.JSONEncodeError, TypeError, AttributeError):
            pass  # surrogates, big integers, odd envelope values: the reference decides
    return canonical(disclosed_form(event))


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
            "sealed": hashlib.sha256(seal).hexdigest(),
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
