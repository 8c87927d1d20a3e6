"""The §7.1 table, the sealed digest and the canonical form v2 (SPEC §4)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from events import disclosure
from events.canonical import is_plain
from events.disclosure import (
    CLEAR_FIELDS,
    DISCLOSED_FIELDS,
    canonical_v2,
    clear_fields,
    disclosed_form,
    disclosed_leaf_hash,
    event_hashes_v2,
    leaf_hash_v2,
    new_salt,
    public_fields,
    sealed_digest,
    split,
)
from events.types import EVENT_TYPES
from tests.events.test_canonical import json_values, tricky_text

#: SPEC §7 "never public": each of these is sealed wherever it appears.
NEVER_CLEAR = {
    "RequestSubmitted": {"sponsor", "purpose", "beneficiaries", "justification"},
    "RequestCirculated": {"deadline", "expedited"},
    "HoldPlaced": {"member", "reason", "note"},
    "HoldReleased": {"member", "note"},
    "HoldLapsed": {"member", "cause"},
    "InformationRequested": {"requested_by", "questions"},
    "InformationProvided": {"response"},
    "ReviewStepRecorded": {"step", "outcome", "member", "note"},
    "ExemptionRefused": {"reason"},
    "ExtensionRequested": {"reason"},
    "ExtensionRefused": {"reason"},
    "AmendmentRequested": {"reason"},
    "AmendmentRefused": {"reason"},
    "RequestWithdrawn": {"reason"},
    "ShipmentRecorded": {"note"},
    "EntryAnnotated": {"text"},
    "EventRetracted": {"reason"},
}

SALT = "5a" * 32


def test_every_event_type_has_its_line_at_its_current_version() -> None:
    assert {(name, version) for name, (_, version) in EVENT_TYPES.items()} == set(CLEAR_FIELDS)


def test_clear_fields_are_fields_of_the_event_type() -> None:
    for (name, version), fields in CLEAR_FIELDS.items():
        model, _ = EVENT_TYPES[name]
        assert fields <= set(model.model_fields), (name, version, fields - set(model.model_fields))


def test_what_is_never_public_is_sealed() -> None:
    for event_type, names in NEVER_CLEAR.items():
        model, version = EVENT_TYPES[event_type]
        assert names <= set(model.model_fields), event_type
        assert not names & clear_fields(event_type, version), event_type


def test_unknown_types_and_versions_seal_everything() -> None:
    assert clear_fields("SomethingNew", 1) == frozenset()
    assert clear_fields("ExemptionApproved", 2) == frozenset()
    assert split("SomethingNew", 1, {"a": 1}) == ({}, {"a": 1})


def test_public_fields_are_the_clear_fields() -> None:
    for name, version in CLEAR_FIELDS:
        assert public_fields(name, version) == clear_fields(name, version)


@given(st.sampled_from(sorted(CLEAR_FIELDS)), st.dictionaries(tricky_text, json_values))
def test_split_partitions_data(key: tuple[str, int], extra: dict[str, Any]) -> None:
    name, version = key
    data = {**extra, **dict.fromkeys(clear_fields(name, version), "x")}
    clear, sealed = split(name, version, data)
    assert set(clear) == clear_fields(name, version) & set(data)
    assert not set(clear) & set(sealed)
    assert {**clear, **sealed} == data


def test_absent_clear_fields_stay_absent() -> None:
    clear, sealed = split("MemberSeated", 1, {"member": "FRA", "term_end": None})
    assert clear == {"member": "FRA", "term_end": None}
    assert sealed == {}


def test_new_salt_is_32_random_bytes_as_lowercase_hex() -> None:
    salts = {new_salt() for _ in range(100)}
    assert len(salts) == 100
    for salt in salts:
        assert len(salt) == 64 and salt == salt.lower() and bytes.fromhex(salt)


@pytest.mark.parametrize("salt", ["5A" * 32, "5a" * 31, "5a" * 33, " " + "5a" * 31 + "5", 7])
def test_a_salt_has_one_spelling(salt: Any) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        sealed_digest(salt, {}, {})


@given(json_values, json_values)
def test_sealed_digest_hashes_the_raw_salt_and_the_jcs_of_data_and_metadata(
    data: Any, metadata: Any
) -> None:
    try:
        expected = hashlib.sha256(
            bytes.fromhex(SALT) + rfc8785.dumps({"data": data, "metadata": metadata})
        ).hexdigest()
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            sealed_digest(SALT, data, metadata)
        return
    assert sealed_digest(SALT, data, metadata) == expected


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "position": 1234,
        "event_id": "0b6c8f0e-7d0c-4b8e-9a51-3f0d7c1e2a44",
        "stream_id": "request-HX-2026-0042",
        "stream_version": 7,
        "event_type": "ExemptionApproved",
        "schema_version": 1,
        "data": {
            "procedure": "initial",
            "valid_from": "2026-12-01",
            "valid_until": "2027-05-31",
            "letter_ref": "S/AC.49/2026/OC.42",
            "shipments_allowed": 3,
        },
        "metadata": {"actor": {"id": "t1", "name": "Secretary", "role": "secretariat"}},
        "occurred_at": "2026-12-01T10:00:00.000000Z",
        "recorded_at": "2026-12-01T10:00:01.250000Z",
        "salt": SALT,
    }
    event.update(changes)
    return event


def test_disclosed_form_holds_exactly_the_members_of_c_e() -> None:
    form = disclosed_form(_event())
    assert tuple(form) == DISCLOSED_FIELDS
    assert "metadata" not in form and "salt" not in form
    assert form["data"] == _event()["data"]  # every field of an approval is clear
    assert form["sealed"] == sealed_digest(SALT, {}, _event()["metadata"])


def test_a_known_leaf() -> None:
    """Spelled out with nothing but hashlib and rfc8785, as an outside verifier would."""
    event = _event(data={**_event()["data"], "internal": "not for the public"})
    sealed = hashlib.sha256(
        bytes.fromhex(SALT)
        + rfc8785.dumps({"data": {"internal": "not for the public"}, "metadata": event["metadata"]})
    ).hexdigest()
    form = {k: event[k] for k in DISCLOSED_FIELDS if k not in ("data", "sealed")}
    form["data"] = _event()["data"]
    form["sealed"] = sealed
    expected = hashlib.sha256(b"\x00" + rfc8785.dumps(form)).digest()
    assert leaf_hash_v2(event) == expected == disclosed_leaf_hash(disclosed_form(event))
    assert b"not for the public" not in canonical_v2(event)


def test_the_leaf_commits_to_salt_sealed_fields_and_metadata() -> None:
    def hold(member: str, **changes: Any) -> dict[str, Any]:
        data = {"procedure": "initial", "member": member}
        return _event(event_type="HoldPlaced", data=data, **changes)

    base = leaf_hash_v2(hold("FRA"))
    assert disclosed_form(hold("FRA"))["data"] == {"procedure": "initial"}
    for changed in (hold("GBR"), hold("FRA", salt="00" * 32), hold("FRA", metadata={})):
        assert leaf_hash_v2(changed) != base


def test_the_envelope_must_be_json_text_and_integers() -> None:
    """orjson would write a UUID or a datetime; the canonical form takes only their text."""
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_v2(_event(event_id=uuid.UUID(_event()["event_id"])))


def test_plain_skips_the_walk_with_the_same_bytes() -> None:
    event = _event()
    assert canonical_v2(event, plain=True) == canonical_v2(event)
    assert leaf_hash_v2(event, plain=True) == leaf_hash_v2(event)


event_types = st.sampled_from(sorted({name for name, _ in CLEAR_FIELDS} | {"Unknown"}))
times = st.sampled_from(["2026-02-05T15:04:05.123456Z", "0999-01-01T00:00:00.000000Z"])


@settings(max_examples=300)
@given(
    position=st.integers(1, 2**53 - 1),
    event_id=st.uuids(),
    stream_id=tricky_text,
    stream_version=st.integers(1, 2**31),
    event_type=event_types,
    schema_version=st.integers(1, 3),
    data=st.dictionaries(
        st.one_of(tricky_text, st.sampled_from(["procedure", "member", "items", "title"])),
        json_values,
    ),
    metadata=st.dictionaries(tricky_text, json_values),
    occurred_at=times,
    recorded_at=times,
    salt=st.binary(min_size=32, max_size=32).map(bytes.hex),
)
def test_canonical_v2_is_rfc8785_of_the_disclosed_form(
    position: int,
    event_id: uuid.UUID,
    stream_id: str,
    stream_version: int,
    event_type: str,
    schema_version: int,
    data: dict[str, Any],
    metadata: dict[str, Any],
    occurred_at: str,
    recorded_at: str,
    salt: str,
) -> None:
    event = {
        "position": position,
        "event_id": str(event_id),
        "stream_id": stream_id,
        "stream_version": stream_version,
        "event_type": event_type,
        "schema_version": schema_version,
        "data": data,
        "metadata": metadata,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "salt": salt,
    }
    try:
        clear, sealed = split(event_type, schema_version, data)
        reference_sealed = hashlib.sha256(
            bytes.fromhex(salt) + rfc8785.dumps({"data": sealed, "metadata": metadata})
        ).hexdigest()
        reference_form = {
            **{k: event[k] for k in DISCLOSED_FIELDS if k not in ("data", "sealed")},
            "data": clear,
            "sealed": reference_sealed,
        }
        expected: bytes | type[Exception] = rfc8785.dumps(reference_form)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError:
        expected = rfc8785.CanonicalizationError
    try:
        got: bytes | type[Exception] = canonical_v2(event)
    except rfc8785.CanonicalizationError:
        got = rfc8785.CanonicalizationError
    assert got == expected
    if is_plain(data) and is_plain(metadata) and isinstance(expected, bytes):
        assert canonical_v2(event, plain=True) == expected
    if isinstance(expected, bytes):
        assert disclosed_form(event) == reference_form
        assert leaf_hash_v2(event) == hashlib.sha256(b"\x00" + expected).digest()


def test_event_hashes_v2_chain_the_leaf() -> None:
    prev = bytes(range(32))
    leaf, chain = event_hashes_v2(_event(), prev)
    assert leaf == leaf_hash_v2(_event())
    assert chain == hashlib.sha256(prev + leaf).digest()


def test_module_names_what_it_exports() -> None:
    for name in disclosure.__all__:
        assert hasattr(disclosure, name)
