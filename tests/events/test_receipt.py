"""Receipts (SPEC §6.2): a good one verifies; any change is refused, naming what failed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.receipt_sample import ORIGIN, Sample, WitnessSigner, sample
from events.disclosure import DISCLOSED_FIELDS
from events.receipt.build import ProvedEvent, build_receipt
from events.receipt.check import ReceiptCheck
from events.receipt.cosignatures import Cosigned, parse_witness_key, verify_cosignatures
from events.receipt.summary import summary
from events.receipt.verify import verify_receipt


@pytest.fixture(scope="module")
def good() -> Sample:
    return sample(5, witnesses=3, quorum=2, pending=1, other_entries=40)


def check(s: Sample, receipt: Any = None, quorum: int | None = None) -> ReceiptCheck:
    return verify_receipt(
        s.receipt if receipt is None else receipt,
        s.log_key,
        [w.vkey for w in s.witnesses],
        s.quorum if quorum is None else quorum,
    )


def checks(result: ReceiptCheck) -> set[tuple[str, int | None]]:
    return {(f.check, f.position) for f in result.failures}


def test_a_good_receipt_verifies(good: Sample) -> None:
    result = check(good)
    assert result.ok, result.failures
    words = summary(result)
    # one event is pending: the receipt as a whole is not yet verified, and says so first
    assert result.exit_code == 2 and not result.complete
    assert words.startswith("NOT YET VERIFIED: 1 event(s) of request HX-2026-0042")
    assert "\nVERIFIED: the approval (letter S/AC.49/2026/OC.42" in words
    approval = good.receipt["events"][2]
    assert f"at position {approval['position']};" in words
    assert "checkpoint of 1 Dec 2026" in words
    assert "cosigned by 3 of 3 witnesses (2 required)" in words
    pending = good.receipt["pending"][0]
    assert "NOT YET VERIFIED (no published checkpoint" in words
    assert f"  - position {pending['position']}: shipment 2" in words
    assert words.endswith("newest witness cosignature: 2026-12-01 12:00:00 UTC.")


def test_a_receipt_holds_no_sealed_value(good: Sample) -> None:
    text = repr(good.receipt)
    assert "SEALED" not in text and "metadata" not in text and "salt" not in text


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    if isinstance(value, dict):
        return {**value, "procedure": "amendment-1"}
    raise AssertionError(value)


@pytest.mark.parametrize("name", DISCLOSED_FIELDS)
def test_changing_any_disclosed_field_fails_at_that_event(good: Sample, name: str) -> None:
    receipt = copy.deepcopy(good.receipt)
    event = receipt["events"][2]
    event[name] = _changed(event[name])
    result = check(good, receipt)
    assert not result.ok
    failed = {f.check for f in result.failures if f.position == event["position"]}
    expected = {"position": "leaf index", "stream_id": "stream"}.get(name, "inclusion proof")
    assert expected in failed, result.failures
    # a moved position also leaves the statement's own position unshown
    moved = {good.receipt["events"][2]["position"]} if name == "position" else set()
    assert {f.position for f in result.failures} == {event["position"]} | moved
    assert summary(result).startswith("NOT VERIFIED")


def test_changing_a_clear_value_inside_data_fails(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["events"][2]["data"]["valid_until"] = "2028-05-31"
    result = check(good, receipt)
    assert checks(result) == {("inclusion proof", receipt["events"][2]["position"])}
    failure = result.failures[0]
    assert failure.stream_version == 3
    assert failure.text().startswith("inclusion proof: event at position ")


def test_changing_a_proof_hash_fails_at_that_event(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    proof = receipt["events"][1]["inclusion_proof"]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]
    assert checks(check(good, receipt)) == {("inclusion proof", receipt["events"][1]["position"])}


@pytest.mark.parametrize("proof", [None, ["zz" * 32], ["AB" * 32], "00" * 32, ["00" * 31]])
def test_a_malformed_proof_is_named(good: Sample, proof: Any) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["events"][0]["inclusion_proof"] = proof
    result = check(good, receipt)
    assert checks(result) == {("inclusion proof", receipt["events"][0]["position"])}


def test_changing_the_checkpoint_fails_its_signature(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    origin, size, rest = receipt["checkpoint"].split("\n", 2)
    receipt["checkpoint"] = f"{origin}\n{int(size) + 1}\n{rest}"
    result = check(good, receipt)
    assert ("checkpoint signature", None) in checks(result)


def test_another_log_key_fails_the_signature(good: Sample) -> None:
    other = sample(1, witnesses=0, quorum=0, other_entries=0)
    result = verify_receipt(good.receipt, other.log_key, [w.vkey for w in good.witnesses], 2)
    assert ("checkpoint signature", None) in checks(result)
    assert ("log key", None) in checks(result)


@pytest.mark.parametrize("cosigned_by", [0, 1])
def test_cosignatures_below_quorum_fail(cosigned_by: int) -> None:
    s = sample(2, witnesses=3, quorum=2, cosigned_by=cosigned_by, other_entries=3)
    result = check(s)
    assert checks(result) == {("quorum", None)}
    assert f"{cosigned_by} valid witness cosignatures" in result.failures[0].detail


def test_dropping_cosignature_lines_below_quorum_fails(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    lines = receipt["checkpoint"].rstrip("\n").split("\n")
    receipt["checkpoint"] = "\n".join(lines[:-2]) + "\n"  # two of three witnesses gone
    assert checks(check(good, receipt)) == {("quorum", None)}
    assert check(good, receipt, quorum=1).ok


def test_a_witness_named_twice_counts_once() -> None:
    s = sample(1, witnesses=2, cosigned_by=1, other_entries=0)
    twice = [s.witnesses[0].vkey, s.witnesses[0].vkey]
    result = verify_receipt(s.receipt, s.log_key, twice, 2)
    assert checks(result) == {("quorum", None)}


def test_the_quorum_defaults_to_every_witness_given() -> None:
    s = sample(1, witnesses=3, cosigned_by=2, other_entries=0)
    assert not verify_receipt(s.receipt, s.log_key, [w.vkey for w in s.witnesses]).ok
    assert verify_receipt(s.receipt, s.log_key, [w.vkey for w in s.witnesses[:2]]).ok


def test_an_origin_mismatch_is_named(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["log"]["origin"] = "another.example/log"
    assert checks(check(good, receipt)) == {("origin", None)}


def test_a_sealed_field_in_a_receipt_is_refused(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["events"][1]["data"]["deadline"] = "2026-12-01T00:00:00.000000Z"
    result = check(good, receipt)
    assert ("sealed field", receipt["events"][1]["position"]) in checks(result)


def test_an_event_of_another_request_is_refused(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    receipt["request_id"] = "HX-2026-0043"
    result = check(good, receipt)
    assert {c for c, _ in checks(result)} == {"stream", "statement"}


def test_a_pending_event_the_checkpoint_covers_is_named(good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    moved = receipt["events"].pop()
    del moved["leaf_index"], moved["inclusion_proof"], moved["tlog_proof"]
    receipt["pending"].insert(0, moved)
    assert checks(check(good, receipt)) == {
        ("pending", moved["position"]),
        ("statement", moved["position"]),
    }


@pytest.mark.parametrize("receipt", [[], "x", {}, {"request_id": "HX-1", "events": 3}])
def test_a_malformed_receipt_is_named(good: Sample, receipt: Any) -> None:
    result = check(good, receipt)
    assert not result.ok and {f.check for f in result.failures} == {"receipt"}


def test_the_cosignature_check_is_a_parameter(good: Sample) -> None:
    def nobody(note: str, keys: Any) -> list[Cosigned]:
        return []

    keys = [w.vkey for w in good.witnesses]
    result = verify_receipt(good.receipt, good.log_key, keys, 1, cosigners=nobody)
    assert checks(result) == {("quorum", None)}


def test_cosignatures_count_once_per_witness_and_only_when_valid(good: Sample) -> None:
    note = good.receipt["checkpoint"]
    keys = [w.vkey for w in good.witnesses]
    again = good.witnesses[0].cosign(note, 1)
    assert len(verify_cosignatures(again, keys)) == 3
    stranger = WitnessSigner("witness-1.example", good.witnesses[1].key)  # name reused
    forged = stranger.cosign(note[: note.find("\u2014 witness")], 5)
    assert verify_cosignatures(forged, keys[:1]) == []
    assert verify_cosignatures(note, []) == []


@pytest.mark.parametrize(
    "text",
    ["nope", "w+00000000+AQ==", "w+zz+AQ==", "w+00000000+" + "A" * 44],
)
def test_a_bad_witness_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_witness_key(text)


def test_build_refuses_an_event_given_whole(good: Sample) -> None:
    whole = {name: good.receipt["pending"][0][name] for name in DISCLOSED_FIELDS}
    whole["metadata"] = {"actor": "x"}
    with pytest.raises(ValueError, match="not a disclosed form"):
        build_receipt(
            request_id="HX-2026-0042",
            origin=ORIGIN,
            log_key=good.log_key,
            witnesses=[],
            quorum=0,
            checkpoint=good.receipt["checkpoint"],
            statement=good.receipt["statement"],
            proved=[ProvedEvent(whole, [])],
        )


def test_one_key_under_two_names_counts_once() -> None:
    s = sample(1, witnesses=2, cosigned_by=1, other_entries=0)
    w = s.witnesses[0]
    alias = WitnessSigner("alias.example/w", w.key)
    receipt = copy.deepcopy(s.receipt)
    receipt["checkpoint"] = alias.cosign(receipt["checkpoint"], 1_700_000_000)
    assert verify_receipt(receipt, s.log_key, [alias.vkey], 1).ok  # the alias's line is valid
    result = verify_receipt(receipt, s.log_key, [w.vkey, alias.vkey], 2)
    assert checks(result) == {("quorum", None)}
    assert [c.name for c in result.cosigned] == [w.name]
    # By default every witness given is required, and one key is one witness.
    result = verify_receipt(receipt, s.log_key, [w.vkey, alias.vkey])
    assert result.ok and (result.witnesses, result.quorum) == (1, 1)


def test_a_number_over_20_digits_is_refused_whole() -> None:
    s = sample(1, witnesses=1, cosigned_by=1, other_entries=0)
    for number in (10**20, -(10**20), 10**5000):
        receipt = copy.deepcopy(s.receipt)
        receipt["events"][0]["data"]["shipment_no"] = number
        result = verify_receipt(receipt, s.log_key, [s.witnesses[0].vkey])
        assert [f.detail for f in result.failures] == ["it holds a number of more than 20 digits"]
    receipt = copy.deepcopy(s.receipt)
    receipt["log"]["origin"] = 10**19  # 20 digits: read, and named by its type
    result = verify_receipt(receipt, s.log_key, [s.witnesses[0].vkey])
    assert "the receipt says a JSON int, not a string" in summary(result)
