"""The canonical fast path is byte for byte `rfc8785.dumps`, or raises as it does."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from events.canonical import CanonicalizationError, canonical

# Characters from every region where JCS and orjson could part ways: controls, quotes and
# backslashes, '/', DEL, the BMP below and above the surrogates, private use, U+FFFF,
# astral characters.
tricky_chars = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x7F),
    st.sampled_from(["\u2028", "\u2029", "\ue000", "\uffff", "\ufeff", "\U0001f600", "\U0010ffff"]),
    st.characters(exclude_categories=["Cs"]),
)
tricky_text = st.text(tricky_chars, max_size=12)

ints = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.sampled_from([0, -1, 2**53 - 1, -(2**53) + 1, 2**53, -(2**53), 2**63, 2**64 + 1]),
    st.integers(),
)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [-0.0, 0.0, 5.0, 1e21, 1e-7, 1e-6, 1e20, 1e16, 123456789012345680000.0, 0.1, 5e-324]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, tricky_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(tricky_text, children, max_size=5),
    ),
    max_leaves=30,
)


def reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except CanonicalizationError:
        return CanonicalizationError


def ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical(value)
    except CanonicalizationError:
        return CanonicalizationError


class TestCanonical:
    @settings(max_examples=1500)
    @given(json_values)
    def test_equals_rfc8785(self, value: Any) -> None:
        assert ours(value) == reference(value)

    @settings(max_examples=500)
    @given(st.dictionaries(tricky_text, st.integers(0, 9), max_size=8))
    def test_key_order_is_utf16(self, value: dict[str, int]) -> None:
        assert ours(value) == reference(value)

    @pytest.mark.parametrize(
        "value",
        [
            {"\ue000": 1, "\U0001f600": 2, "a": 3},
            {"\uffff": 1, "\U00010000": 2},
            {"é": 1, "e": 2, "\u00ff": 3},
            [1.0, -0.0, 1e21, 1e-7, 2.5e-5, 1e300, -1e-300],
            {"n": 2**53 - 1, "m": -(2**53) + 1},
            ("tuple", 1),
            '\x00\x1f\x7f"\\/\u2028',
            {"nested": [{"x": [1.5, {"y": None}]}]},
        ],
    )
    def test_known_edges(self, value: Any) -> None:
        assert canonical(value) == rfc8785.dumps(value)

    @pytest.mark.parametrize(
        "value",
        [
            2**53,
            -(2**53),
            {"big": 2**64},
            math.nan,
            [math.inf],
            {1: "non-string key"},
            "\ud800",
            {"k": "\udfff"},
            {"s": {1, 2}},
            b"bytes",
        ],
    )
    def test_refuses_what_rfc8785_refuses(self, value: Any) -> None:
        with pytest.raises(CanonicalizationError):
            rfc8785.dumps(value)
        with pytest.raises(CanonicalizationError):
            canonical(value)

    def test_subclasses_take_the_reference_path(self) -> None:
        class Text(str):
            pass

        class Mapping(dict[str, Any]):
            pass

        value = Mapping({Text("b"): Text("x"), "a": True})
        assert canonical(value) == rfc8785.dumps(value) == b'{"a":true,"b":"x"}'
        plain: Any = {Text("b"): 1, "a": [Text("y")]}
        assert canonical(plain) == rfc8785.dumps(plain) == b'{"a":["y"],"b":1}'

    def test_deep_nesting_matches(self) -> None:
        deep: Any = 1
        for _ in range(300):  # deeper than orjson's limit of 255
            deep = [deep]
        assert canonical(deep) == rfc8785.dumps(deep)

    def test_typical_event(self) -> None:
        event = typical_event()
        assert canonical(event) == rfc8785.dumps(event)


def typical_event() -> dict[str, Any]:
    """About 1 KB, the shape of a `RequestSubmitted` `c(e)`."""
    return {
        "position": 123456,
        "event_id": "3f1c2a9e-8d7b-4c6a-9e5f-0a1b2c3d4e5f",
        "stream_id": "request-HX-2026-0042",
        "stream_version": 1,
        "event_type": "RequestSubmitted",
        "schema_version": 1,
        "data": {
            "request_id": "HX-2026-0042",
            "applicant": {"name": "Médecins du Monde — Pyongyang", "kind": "ngo"},
            "channel": "member_state",
            "sponsor": "FRA",
            "title": "Tuberculosis diagnostics for provincial hospitals",
            "purpose": "Diagnose and treat multi-drug-resistant TB in four provinces.",
            "beneficiaries": "About 12,000 patients in North and South Hwanghae",
            "items": [
                {
                    "description": "GeneXpert IV analyser",
                    "hs_code": "9027.80",
                    "quantity": 4,
                    "unit": "unit",
                    "value_usd": 68000,
                },
                {
                    "description": "Xpert MTB/RIF cartridges",
                    "hs_code": "3822.19",
                    "quantity": 5000,
                    "unit": "cartridge",
                    "value_usd": 49950,
                },
            ],
            "urgent": False,
            "requested_validity_months": 9,
            "justification": "Cold-chain delivery requires staggered shipments.",
            "disclosure": "public",
        },
        "metadata": {
            "actor": {"id": "tok_01HX", "name": "secretariat-desk", "role": "secretariat"},
            "correlation_id": "a7c1d2e3-f4a5-4b6c-8d7e-9f0a1b2c3d4e",
            "causation_id": None,
            "idempotency_key": "submit-hx-2026-0042",
        },
        "occurred_at": "2026-02-05T15:04:05.123456Z",
        "recorded_at": "2026-02-05T15:04:05.654321Z",
    }
