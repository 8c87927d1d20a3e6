"""`service/static/receipt.js` in real Chromium: it accepts the receipts the Python core
builds, refuses a tampered one naming the event, and its JCS is byte for byte rfc8785."""

from __future__ import annotations

import copy
import json
import random
import statistics
from collections.abc import Iterator
from typing import Any

import pytest
import rfc8785

from bench import receipt_page
from bench.receipt_sample import Sample, WitnessSigner, sample
from tests.public.test_pages_browser import ARGS, CHROMIUM, _need_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def good() -> Sample:
    return sample(10, witnesses=3, quorum=2, pending=1, other_entries=3000)


def _tampered(s: Sample) -> dict[str, Any]:
    receipt = copy.deepcopy(s.receipt)
    receipt["events"][2]["data"]["valid_until"] = "2029-05-31"
    return receipt


def _few_cosignatures(s: Sample) -> dict[str, Any]:
    receipt = copy.deepcopy(s.receipt)
    lines = receipt["checkpoint"].rstrip("\n").split("\n")
    receipt["checkpoint"] = "\n".join(lines[:-2]) + "\n"
    return receipt


def _dropped(s: Sample) -> dict[str, Any]:
    receipt = copy.deepcopy(s.receipt)
    del receipt["events"][3]  # a genuine receipt with an event taken out
    return receipt


def _forged_pending(s: Sample) -> dict[str, Any]:
    receipt = copy.deepcopy(s.receipt)
    forged = copy.deepcopy(receipt["pending"][0])
    forged.update(event_type="ExemptionApproved", position=forged["position"] + 1)
    forged["data"] = {**receipt["events"][2]["data"], "letter_ref": "FORGED"}
    forged["data"]["valid_until"] = "2099-12-31"
    receipt["pending"].append(forged)
    return receipt


def _bad_proof(s: Sample) -> dict[str, Any]:
    receipt = copy.deepcopy(s.receipt)
    receipt["events"][0]["inclusion_proof"][1] = "cd" * 32
    return receipt


@pytest.fixture(scope="module")
def site(good: Sample) -> Iterator[str]:
    _need_chromium()
    keys = {"log": good.log_key, "witnesses": [w.vkey for w in good.witnesses], "quorum": 2}
    files = {
        "good.json": good.receipt,
        "tampered.json": _tampered(good),
        "few.json": _few_cosignatures(good),
        "proof.json": _bad_proof(good),
        "dropped.json": _dropped(good),
        "forged.json": _forged_pending(good),
        "keys.json": keys,
        "witnesses.json": {
            "quorum": 2,
            "witnesses": [{"name": w.name, "vkey": w.vkey} for w in good.witnesses],
        },
    }
    pq = sample(4, witnesses=2, quorum=2, other_entries=20, mldsa=True)
    files["mldsa.json"] = pq.receipt
    files["mldsa-keys.json"] = {"log": pq.log_key, "witnesses": [w.vkey for w in pq.witnesses]}
    served = {k: json.dumps(v).encode() for k, v in files.items()}
    served["log-key.txt"] = good.log_key.encode() + b"\n"
    with receipt_page.serve(served) as url:
        yield url


@pytest.fixture(scope="module")
def page(site: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page()
        outside: list[str] = []
        pg.on("request", lambda r: None if r.url.startswith(site) else outside.append(r.url))
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(site + "/")
        yield pg
        assert outside == [], f"the page loaded something from elsewhere: {outside}"
        assert errors == [], errors
        browser.close()


def test_a_good_receipt_verifies_in_the_browser(page: Any, good: Sample) -> None:
    outcome = page.evaluate("run('good.json')")
    assert outcome["ok"], outcome["failures"]
    approval = good.receipt["events"][2]
    headline = outcome["words"]["headline"]
    # one event is pending: said first, and the receipt is not shown as verified in full
    assert headline == (
        "Not yet verified in full: 1 event(s) shown are not proved. "
        f"This approval is in the committee's signed log at position {approval['position']}; "
        "checkpoint of 1 Dec 2026 cosigned by 3 of 3 witnesses."
    )
    shown = page.locator("#outcome").inner_text()
    assert headline in shown and "S/AC.49/2026/OC.42" in shown
    pending = good.receipt["pending"][0]["position"]
    assert f"Position {pending}: shipment 7 of " in shown and "NOT YET VERIFIED" in shown
    size = int(good.receipt["checkpoint"].split("\n")[1])
    assert f"all the request's public events up to its entry {size:,}" in shown
    assert f"tree size {size:,}; newest witness cosignature: 2026-12-01 12:00:00 UTC." in shown
    assert page.get_attribute("#outcome", "data-verified") == "pending"


def test_a_receipt_with_an_event_taken_out_is_refused(page: Any, good: Sample) -> None:
    outcome = page.evaluate("run('dropped.json')")
    position = good.receipt["events"][3]["position"]
    assert [(f["check"], f["position"]) for f in outcome["failures"]] == [("statement", position)]
    shown = page.locator("#outcome").inner_text()
    assert shown.startswith("Not verified") and "leaves it out" in shown
    assert page.get_attribute("#outcome", "data-verified") == "no"


def test_a_forged_approval_under_pending_is_not_verified(page: Any) -> None:
    outcome = page.evaluate("run('forged.json')")
    assert outcome["ok"] and not outcome["complete"]
    shown = page.locator("#outcome").inner_text()
    assert shown.startswith("Not yet verified in full: 2 event(s)")
    forged = [line for line in shown.split("\n") if "FORGED" in line]
    assert forged and all("NOT YET VERIFIED" in line for line in forged), forged
    assert page.get_attribute("#outcome", "data-verified") == "pending"


@pytest.mark.parametrize(
    ("name", "check", "event"),
    [
        ("tampered.json", "inclusion proof", 2),
        ("proof.json", "inclusion proof", 0),
        ("few.json", "quorum", None),
    ],
)
def test_a_tampered_receipt_is_reported_failing(
    page: Any, good: Sample, name: str, check: str, event: int | None
) -> None:
    outcome = page.evaluate(f"run('{name}')")
    assert not outcome["ok"]
    position = None if event is None else good.receipt["events"][event]["position"]
    assert [(f["check"], f["position"]) for f in outcome["failures"]] == [(check, position)]
    shown = page.locator("#outcome").inner_text()
    assert shown.startswith("Not verified: this receipt of HX-2026-0042 does not check out.")
    if event is not None:
        assert f"{check}: event at position {position} (stream version {event + 1})" in shown
    assert page.get_attribute("#outcome", "data-verified") == "no"


def test_a_witness_named_twice_counts_once(page: Any, good: Sample) -> None:
    receipt = _few_cosignatures(good)
    twice = [good.witnesses[0].vkey] * 2
    outcome = page.evaluate(
        "([r, k, w]) => DocketReceipt.verify(r, k, w, 2)", [receipt, good.log_key, twice]
    )
    assert not outcome["ok"]
    assert [f["check"] for f in outcome["failures"]] == ["quorum"]


def test_one_key_under_two_names_counts_once(page: Any, good: Sample) -> None:
    # What a log could serve at /public/log/witnesses: its one witness's key twice, under
    # two names, with the one cosignature copied under the second name.
    receipt = _few_cosignatures(good)
    lines = receipt["checkpoint"].rstrip("\n").split("\n")
    receipt["checkpoint"] = "\n".join(lines[:-1]) + "\n"  # the log's line and w0's
    alias = WitnessSigner("alias.example/w", good.witnesses[0].key)
    receipt["checkpoint"] = alias.cosign(receipt["checkpoint"], 1_700_000_000)
    keys = [good.witnesses[0].vkey, alias.vkey]
    alone = page.evaluate(
        "([r, k, w]) => DocketReceipt.verify(r, k, w, 1)", [receipt, good.log_key, keys[1:]]
    )
    assert alone["ok"]
    outcome = page.evaluate(
        "([r, k, w]) => DocketReceipt.verify(r, k, w, 2)", [receipt, good.log_key, keys]
    )
    assert [f["check"] for f in outcome["failures"]] == ["quorum"]
    assert len(outcome["cosigned"]) == 1
    default = page.evaluate(
        "([r, k, w]) => DocketReceipt.verify(r, k, w)", [receipt, good.log_key, keys]
    )
    assert default["ok"] and (default["witnesses"], default["quorum"]) == (1, 1)


def test_a_tree_size_over_20_digits_is_refused(page: Any, good: Sample) -> None:
    receipt = copy.deepcopy(good.receipt)
    origin, _size, rest = receipt["checkpoint"].split("\n", 2)
    for digits in ("1" + "0" * 20, "9" * 5000):
        receipt["checkpoint"] = f"{origin}\n{digits}\n{rest}"
        outcome = page.evaluate(
            "([r, k]) => DocketReceipt.verify(r, k, [], 0)", [receipt, good.log_key]
        )
        assert not outcome["ok"] and outcome["checkpoint"] is None
        assert [f["check"] for f in outcome["failures"]] == ["checkpoint signature"]


@pytest.mark.parametrize(("name", "verified"), [("good.json", "pending"), ("tampered.json", "no")])
def test_an_element_naming_its_receipt_is_checked_on_load(
    page: Any, site: str, name: str, verified: str
) -> None:
    page.goto(f"{site}/check/{name}")
    page.wait_for_selector(f"#outcome[data-verified={verified}]")
    shown = page.locator("#outcome").inner_text()
    expected = "Not yet verified in full" if verified == "pending" else "Not verified"
    assert shown.startswith(expected)
    page.goto(site + "/")


def test_a_receipt_that_cannot_be_fetched_is_said_so(page: Any, site: str) -> None:
    page.goto(f"{site}/check/missing.json")
    page.wait_for_selector("#outcome[data-verified=no]")
    assert (
        "could not be checked: /missing.json answered 404" in page.locator("#outcome").inner_text()
    )
    page.goto(site + "/")


def _values(rng: random.Random, depth: int = 0) -> Any:
    chars = 'aZ09 "\\/\b\f\n\r\t\x00\x1f\x7f\u00e9\u2028\ue000\uffff\U0001f600\U0010ffff'
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 2:
        fixed = [0.1, -0.0, 5.0, 1e21, 1e-7, 1e-6, 123456789.125, 5e-324, 1.7976931348623157e308]
        return rng.choice(
            [*fixed, rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-30, 30)]
        )
    if kind in (3, 4):
        return "".join(rng.choice(chars) for _ in range(rng.randrange(6)))
    if kind == 5:
        return [_values(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["".join(rng.choice(chars) for _ in range(rng.randrange(1, 4))) for _ in range(5)]
    return {key: _values(rng, depth + 1) for key in keys}


def test_the_browser_jcs_is_rfc8785(page: Any) -> None:
    rng = random.Random(8785)
    values = [_values(rng) for _ in range(400)]
    got = page.evaluate(
        "texts => texts.map(t => DocketReceipt.jcs(JSON.parse(t)))", [json.dumps(v) for v in values]
    )
    for value, text in zip(values, got, strict=True):
        assert text.encode() == rfc8785.dumps(value), value


def test_b11_in_the_browser_is_printed(page: Any) -> None:
    """B11's browser figure, printed for the record (bench/b11.py reports it too)."""
    times = page.evaluate("timed('good.json', 20)")
    assert len(times) == 20
    print(f"\nB11 browser: 10-event receipt verified in median {statistics.median(times):.1f} ms")


def test_ml_dsa_lines_are_named_as_not_checked_in_the_page(page: Any) -> None:
    """WebCrypto has no ML-DSA: the page checks the Ed25519 lines, says plainly which
    ML-DSA-44 lines it did not check, and does not fail for them."""
    words = page.evaluate(
        """async () => {
        const get = async (f) => (await fetch(f)).json();
        const receipt = await get('mldsa.json'), keys = await get('mldsa-keys.json');
        const result = await DocketReceipt.verify(receipt, keys.log, keys.witnesses, 2);
        return {ok: result.ok, failures: result.failures, words: DocketReceipt.describe(result)};
    }"""
    )
    assert words["ok"], words["failures"]
    text = " ".join(words["words"]["lines"])
    assert "Checked in this page: the log's Ed25519 signature" in text
    assert "Not checked in this page (the browser has no ML-DSA-44)" in text
    assert "the log's ML-DSA-44 signature line" in text
    assert "the ML-DSA-44 cosignatures of witness-2.example" in text
