"""`GET /public/requests/{id}/receipt` (SPEC §6.2) on both backends: what it proves, what it
never shows, `pending` with `Retry-After`, the one 404, and the three verifiers (the core,
`docket receipt verify`, the independent `docs/examples/check_log.py`) on served receipts.
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from events.disclosure import DISCLOSED_FIELDS
from events.receipt.verify import verify_receipt
from service.cli import app as cli
from tests.api.conftest import WHO, Api, ago, make_request, seat, submission

CHECK_LOG = Path(__file__).parents[2] / "docs" / "examples" / "check_log.py"
PROOF_FIELDS = {"leaf_index", "inclusion_proof", "tlog_proof"}
#: Values of the factories' sealed fields and metadata: never in a receipt.
SEALED_VALUES = (
    "Diagnose and treat tuberculosis",
    "About 12,000 patients",
    "dual use",
    "more time",
    "Which hospitals?",
    "secretariat",
    "salt",
    "metadata",
    "deadline",
)


async def _publish(api: Api) -> int:
    """Project the log and sign a checkpoint of it, as the writer would; its size."""
    runtime = api.app.state.runtime
    await runtime.runner.catch_up()
    await runtime.tree.sign_checkpoint(runtime.signer, runtime.settings.log_origin)
    return await api.head()


async def _receipt(api: Api, request_id: str) -> tuple[dict[str, Any], Any]:
    await api.app.state.runtime.runner.catch_up()
    response = await api.get(f"/public/requests/{request_id}/receipt", None)
    assert response.status_code == 200, response.text
    return response.json(), response


def _log_key(api: Api) -> str:
    key: str = api.app.state.runtime.signer.verifier_key()
    return key


async def _approved_with_shipment(api: Api) -> str:
    await seat(api)
    rid = await make_request(api, "on_hold")
    base = f"/v1/requests/{rid}"
    await api.ok(f"{base}/holds/USA/release", {"note": "satisfied"})
    approval = await api.ok(
        f"{base}/decision", {"outcome": "approved", "letter_ref": "S/AC.49/2026/7"}
    )
    # the first day of validity (the committee's today): a shipment the rule accepts on
    # any day the suite runs
    shipped_on = approval["events"][0]["data"]["valid_from"]
    await api.ok(f"{base}/shipments", {"shipment_no": 1, "shipped_on": shipped_on})
    return rid


async def test_a_published_approval_has_a_receipt_every_verifier_accepts(
    api: Api, tmp_path: Path
) -> None:
    rid = await _approved_with_shipment(api)
    size = await _publish(api)
    receipt, response = await _receipt(api, rid)
    assert "retry-after" not in response.headers and response.headers["etag"]
    kinds = [e["event_type"] for e in receipt["events"]]
    # the hold, its release (and who placed it) are not public: not in the receipt
    assert kinds == [
        "RequestSubmitted",
        "RequestCirculated",
        "ExemptionApproved",
        "ShipmentRecorded",
    ]
    assert receipt["pending"] == [] and receipt["request_id"] == rid
    for event in receipt["events"]:
        assert set(event) == set(DISCLOSED_FIELDS) | PROOF_FIELDS
        assert event["leaf_index"] == event["position"] - 1 and event["position"] <= size
    text = response.text
    for value in SEALED_VALUES:
        assert value not in text, value
    assert receipt["events"][0]["data"]["applicant"]["name"] == WHO
    assert receipt["events"][2]["data"]["letter_ref"] == "S/AC.49/2026/7"

    check = verify_receipt(receipt, _log_key(api))
    assert check.ok, check.failures
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    (tmp_path / "log.key").write_text(_log_key(api) + "\n")
    done = CliRunner().invoke(cli, ["receipt", "verify", str(tmp_path / "receipt.json"),
                                    "--log-key", _log_key(api)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "VERIFIED: the approval (letter S/AC.49/2026/7" in done.output
    independent = _check_log(tmp_path)
    assert independent.returncode == 0, independent.stdout
    assert f"receipt of {rid}: 4 events verified" in independent.stdout


def _check_log(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK_LOG), "receipt", "receipt.json", "log.key"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _changes(receipt: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
    """Each disclosed field of each event changed in turn: (what, receipt, its position)."""
    out = []
    for index, event in enumerate(receipt["events"]):
        for name in DISCLOSED_FIELDS:
            changed = copy.deepcopy(receipt)
            target = changed["events"][index]
            value = target[name]
            if name == "data":
                key = sorted(value)[0]
                value[key] = "changed" if value[key] != "changed" else "again"
            elif isinstance(value, int):
                target[name] = value + 1
            elif name in ("occurred_at", "recorded_at"):
                target[name] = value.replace("T", "T", 1)[:-8] + "999999Z"
            elif name == "sealed":
                target[name] = ("0" if value[0] != "0" else "1") + value[1:]
            else:
                target[name] = value + "x"
            out.append((f"{event['event_type']}.{name}", changed, event["position"]))
    return out


async def test_a_receipt_with_any_disclosed_field_changed_is_refused_by_all(
    api: Api, tmp_path: Path
) -> None:
    rid = await _approved_with_shipment(api)
    await _publish(api)
    receipt, _ = await _receipt(api, rid)
    key = _log_key(api)
    (tmp_path / "log.key").write_text(key + "\n")
    changes = _changes(receipt)
    assert len(changes) == 4 * len(DISCLOSED_FIELDS)
    for what, changed, position in changes:
        check = verify_receipt(changed, key)
        assert not check.ok, what
        # the failure names the event (at its position as shown, if that was changed)
        named = {f.position for f in check.failures}
        assert named & {position, position + 1}, (what, check.failures)
    # the two command-line verifiers, on a sample of the changes (each is a process)
    for what, changed, position in changes[:: len(DISCLOSED_FIELDS) - 1]:
        (tmp_path / "receipt.json").write_text(json.dumps(changed))
        done = CliRunner().invoke(cli, ["receipt", "verify", str(tmp_path / "receipt.json"),
                                        "--log-key", key])  # fmt: skip
        assert done.exit_code == 1 and "NOT VERIFIED" in done.output, what
        assert f"position {position}" in done.output or "stream" in done.output, what
        independent = _check_log(tmp_path)
        assert independent.returncode == 1 and "FAILED" in independent.stdout, what


async def test_events_after_the_published_checkpoint_are_pending(api: Api) -> None:
    rid = await _approved_with_shipment(api)
    size = await _publish(api)
    base = f"/v1/requests/{rid}"
    state = await api.state(rid)
    await api.ok(f"{base}/shipments", {"shipment_no": 2, "shipped_on": state["valid_from"]})
    receipt, response = await _receipt(api, rid)
    assert [e["event_type"] for e in receipt["pending"]] == ["ShipmentRecorded"]
    assert set(receipt["pending"][0]) == set(DISCLOSED_FIELDS)
    assert receipt["pending"][0]["position"] > size
    interval = api.settings.checkpoint_interval_seconds
    assert 1 <= int(response.headers["retry-after"]) <= interval
    assert verify_receipt(receipt, _log_key(api)).ok
    await _publish(api)
    receipt, response = await _receipt(api, rid)
    assert receipt["pending"] == [] and len(receipt["events"]) == 5
    assert "retry-after" not in response.headers


async def test_nothing_published_yet_means_every_event_pending(api: Api) -> None:
    rid = await make_request(api, "approved")
    receipt, response = await _receipt(api, rid)
    assert receipt["events"] == [] and receipt["checkpoint"] == ""
    assert [e["event_type"] for e in receipt["pending"]][-1] == "ExemptionApproved"
    assert int(response.headers["retry-after"]) >= 1


async def test_a_confidential_event_does_not_move_the_receipt(api: Api) -> None:
    rid = await _approved_with_shipment(api)
    await _publish(api)
    before, first = await _receipt(api, rid)
    await api.ok(
        f"/v1/requests/{rid}/annotations",
        {"target_position": before["events"][0]["position"], "text": "internal"},
    )
    other = await make_request(api, "on_hold")
    await api.ok(f"/v1/requests/{other}/holds/USA/release", {"note": "ok"})
    after, second = await _receipt(api, rid)
    assert after == before and first.headers["etag"] == second.headers["etag"]
    again = await api.get(
        f"/public/requests/{rid}/receipt", None, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


async def test_no_receipt_reveals_a_request_nothing_of_which_is_public(api: Api) -> None:
    await seat(api)
    confidential = await make_request(api, "on_hold", request_id="HX-2026-0901")
    await _publish(api)
    hidden = await api.get(f"/public/requests/{confidential}/receipt", None)
    missing = await api.get("/public/requests/HX-2026-0902/receipt", None)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"]
    one, two = hidden.json(), missing.json()
    assert one["detail"].replace("0901", "0902") == two["detail"]
    assert {k: v for k, v in one.items() if k != "detail"} == {
        k: v for k, v in two.items() if k != "detail"
    }


async def test_a_public_request_not_yet_decided_proves_its_submission(api: Api) -> None:
    rid = await make_request(api, "circulated", disclosure="public")
    await _publish(api)
    receipt, _ = await _receipt(api, rid)
    assert [e["event_type"] for e in receipt["events"]] == ["RequestSubmitted", "RequestCirculated"]
    assert "deadline" not in orjson.dumps(receipt).decode()
    assert verify_receipt(receipt, _log_key(api)).ok


async def test_the_request_page_checks_its_receipt_in_the_browser(api: Api) -> None:
    rid = await make_request(api, "approved")
    await _publish(api)
    page = await api.get(f"/requests/{rid}", None)
    assert page.status_code == 200
    html = page.text
    assert f'data-docket-receipt="/public/requests/{rid}/receipt"' in html
    assert '<script src="/static/receipt.js" defer></script>' in html
    assert f'download="receipt-{rid}.json"' in html
    assert f"docket receipt verify receipt-{rid}.json --log-key" in html
    script = await api.get("/static/receipt.js", None)
    assert script.status_code == 200 and "DocketReceipt" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


async def test_the_salt_is_given_to_auditors_whole_and_to_no_one_else(api: Api) -> None:
    answer = await api.ok("/v1/requests", {**submission(), "disclosure": "public"})
    assert all("salt" not in event for event in answer["events"])
    rid = answer["request_id"]
    await _publish(api)
    page = (await api.get("/v1/events", "auditor")).json()["items"]
    salt = page[-1]["salt"]
    assert len(salt) == 64 and int(salt, 16) >= 0
    for path in (f"/public/requests/{rid}", f"/public/requests/{rid}/receipt", f"/requests/{rid}"):
        assert salt not in (await api.get(path, None)).text, path
    assert salt not in (await api.get(f"/v1/requests/{rid}", "applicant")).text


# --- complete, not just true (SPEC §6.2) ------------------------------------------------


async def _approved_and_amended(api: Api) -> str:
    """An approval, then an approved amendment of its items."""
    await seat(api)
    submitted = await api.ok("/v1/requests", {**submission(), "occurred_at": ago(100)})
    rid: str = submitted["request_id"]
    base = f"/v1/requests/{rid}"
    for path, body in (
        ("circulate", {"occurred_at": ago(99), "deadline": ago(90)}),
        ("decision", {"outcome": "approved", "letter_ref": "S/AC.49/1", "occurred_at": ago(80)}),
        ("amendments", {"items": submission()["items"] * 2, "reason": "r", "occurred_at": ago(40)}),
        ("circulate", {"occurred_at": ago(39), "deadline": ago(30)}),
        ("decision", {"outcome": "approved", "occurred_at": ago(20)}),
    ):
        await api.ok(f"{base}/{path}", body)
    return rid


def _verify_cli(tmp_path: Path, receipt: dict[str, Any], key: str) -> tuple[int, str]:
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    done = CliRunner().invoke(cli, ["receipt", "verify", str(tmp_path / "receipt.json"),
                                    "--log-key", key])  # fmt: skip
    return done.exit_code, done.output


async def test_a_receipt_with_its_amendment_taken_out_is_refused(api: Api, tmp_path: Path) -> None:
    rid = await _approved_and_amended(api)
    size = await _publish(api)
    receipt, _ = await _receipt(api, rid)
    key = _log_key(api)
    head = f"origin {api.settings.log_origin}\nrequest {rid}\nsize {size}\npositions "
    assert receipt["statement"].startswith("docket.receipt-statement/v1\n" + head)
    assert _verify_cli(tmp_path, receipt, key)[0] == 0
    dropped = copy.deepcopy(receipt)
    [amendment] = [e for e in dropped["events"] if e["event_type"] == "AmendmentApproved"]
    dropped["events"].remove(amendment)
    check = verify_receipt(dropped, key)
    assert [(f.check, f.position) for f in check.failures] == [("statement", amendment["position"])]
    code, out = _verify_cli(tmp_path, dropped, key)
    assert code == 1 and out.startswith("NOT VERIFIED"), out
    assert f"statement: event at position {amendment['position']}" in out
    assert "leaves it out" in out and f"tree size {size:,}" in out and "no witness time" in out
    (tmp_path / "log.key").write_text(key + "\n")
    independent = _check_log(tmp_path)
    assert independent.returncode == 1, independent.stdout
    assert f"it leaves out [{amendment['position']}]" in independent.stdout
    # moved under `pending`, it is still refused: the checkpoint covers it
    moved = copy.deepcopy(dropped)
    moved["pending"].append({k: amendment[k] for k in DISCLOSED_FIELDS})
    assert _verify_cli(tmp_path, moved, key)[0] == 1


async def test_a_forged_approval_under_pending_is_not_verified(api: Api, tmp_path: Path) -> None:
    rid = await make_request(api, "approved")
    size = await _publish(api)
    receipt, _ = await _receipt(api, rid)
    approval = next(e for e in receipt["events"] if e["event_type"] == "ExemptionApproved")
    forged = {k: copy.deepcopy(approval[k]) for k in DISCLOSED_FIELDS}
    forged["data"]["letter_ref"] = "FORGED"
    forged["data"]["valid_until"] = "2099-12-31"
    forged["position"] = size + 1
    forged["stream_version"] = approval["stream_version"] + 5
    receipt["pending"].append(forged)
    code, out = _verify_cli(tmp_path, receipt, _log_key(api))
    assert code == 2, out
    assert out.startswith("NOT YET VERIFIED: 1 event(s)")
    assert "NOT YET VERIFIED (no published checkpoint" in out
    assert "letter FORGED" in out.split("NOT YET VERIFIED (")[1]
    assert f"tree size {size:,}; newest witness cosignature: no witness time." in out


async def test_verify_receipt_proves_a_lying_statement_against_the_log(
    api: Api, tmp_path: Path
) -> None:
    from events.statement import Statement, sign_statement
    from tests.service.test_cli import docket

    rid = await _approved_and_amended(api)
    size = await _publish(api)
    receipt, _ = await _receipt(api, rid)
    env = {"DOCKET_SIGNING_KEY_FILE": str(api.settings.signing_key_file),
           "DOCKET_LOG_ORIGIN": api.settings.log_origin}  # fmt: skip
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    url = api.settings.database_url

    async def verify_in_a_thread() -> subprocess.CompletedProcess[str]:
        # `docket verify --receipt` in its own process, this event loop left running: the
        # app's background work may hold SQLite's write lock mid-transaction, and a loop
        # blocked on the child would hold it past the child's 30 s busy timeout
        args = ("verify", "--receipt", "receipt.json")
        return await asyncio.to_thread(docket, url, tmp_path, *args, env=env)

    honest = await verify_in_a_thread()
    assert honest.returncode == 0, honest.stdout + honest.stderr
    # A log that hides the amendment from a bank: its statement and receipt leave it out,
    # and the receipt verifies offline ...
    [amendment] = [e for e in receipt["events"] if e["event_type"] == "AmendmentApproved"]
    receipt["events"].remove(amendment)
    runtime = api.app.state.runtime
    positions = tuple(e["position"] for e in receipt["events"])
    said = Statement(api.settings.log_origin, rid, size, positions)
    receipt["statement"] = sign_statement(runtime.signer, said)
    assert verify_receipt(receipt, _log_key(api)).ok
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    # ... but the log holds it, and its own signature on the statement is the evidence.
    lying = await verify_in_a_thread()
    assert lying.returncode == 3, lying.stdout + lying.stderr
    assert lying.stdout.startswith(f"EVIDENCE: the log's signed statement of {rid}")
    assert receipt["statement"] in lying.stdout
    assert f'"position": {amendment["position"]}' in lying.stdout
    assert '"event_type": "AmendmentApproved"' in lying.stdout
    # a statement not signed by this log proves nothing
    receipt["statement"] = receipt["statement"].replace("size", "size 1", 1)
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    bad = await verify_in_a_thread()
    assert bad.returncode == 1 and bad.stdout.startswith("FAILED"), bad.stdout


# --- in the ecosystem's format: tlog-proof (SPEC §6.2) --------------------------------------


async def test_each_proved_event_carries_a_tlog_proof_an_independent_checker_accepts(
    api: Api,
) -> None:
    import rfc8785

    from tests.tlog.tlog_proof_checker import Refused, check

    rid = await _approved_and_amended(api)
    await _publish(api)
    receipt, _ = await _receipt(api, rid)
    key = _log_key(api)
    assert len(receipt["events"]) >= 4
    for event in receipt["events"]:
        entry = rfc8785.dumps({k: event[k] for k in DISCLOSED_FIELDS})
        index = event["leaf_index"]
        assert event["tlog_proof"].startswith(f"c2sp.org/tlog-proof@v1\nindex {index}\n")
        assert check(entry, event["tlog_proof"], key, [], 0) == event["position"] - 1
        # the page's download is the same text
        url = f"/public/requests/{rid}/events/{event['position']}.tlog-proof"
        served = await api.get(url, None)
        assert served.status_code == 200 and served.text == event["tlog_proof"]
        assert served.headers["content-type"].startswith("text/plain")
        name = f'filename="{rid}-{event["position"]}.tlog-proof"'
        assert name in served.headers["content-disposition"]
        # another entry, a changed hash or index: refused by the checker
        changed = entry.replace(b'"position":', b'"position": ')
        for bad_entry, text in (
            (changed, event["tlog_proof"]),
            (
                entry,
                event["tlog_proof"].replace(
                    f"index {event['leaf_index']}", f"index {event['leaf_index'] + 1}"
                ),
            ),
        ):
            try:
                check(bad_entry, text, key, [], 0)
            except Refused:
                continue
            raise AssertionError("a wrong entry or index was accepted")
    missing = await api.get(f"/public/requests/{rid}/events/1.tlog-proof", None)
    assert missing.status_code == 404
    # a tlog_proof that disagrees with the receipt's own proof is refused by the verifier
    altered = copy.deepcopy(receipt)
    first = altered["events"][0]
    first["tlog_proof"] = first["tlog_proof"].replace("index ", "extra AA==\nindex ", 1)
    assert verify_receipt(altered, key).ok  # extra data is allowed, and not trusted
    first["tlog_proof"] = first["tlog_proof"].replace(f"index {first['leaf_index']}", "index 0")
    check_ = verify_receipt(altered, key)
    assert [(f.check, f.position) for f in check_.failures] == [("tlog-proof", first["position"])]


# --- the witness policy as a C2SP tlog-policy (SPEC §6.1) ---------------------------------


async def test_the_policy_is_served_and_verifies_a_receipt(api: Api, tmp_path: Path) -> None:
    from events.tlog_policy import parse_policy

    rid = await make_request(api, "approved")
    await _publish(api)
    receipt, _ = await _receipt(api, rid)
    answer = await api.get("/public/log/policy", None)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert answer.text == f"log {_log_key(api)}\nquorum none\n"
    assert parse_policy(answer.text).log_key(api.settings.log_origin) is not None
    (tmp_path / "policy").write_text(answer.text)
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    done = CliRunner().invoke(cli, ["receipt", "verify", str(tmp_path / "receipt.json"),
                                    "--policy", str(tmp_path / "policy")])  # fmt: skip
    assert done.exit_code == 0, done.output
    (tmp_path / "policy").write_text(f"log {_log_key(api)}\nlog {_log_key(api)}\nquorum none\n")
    done = CliRunner().invoke(cli, ["receipt", "verify", str(tmp_path / "receipt.json"),
                                    "--policy", str(tmp_path / "policy")])  # fmt: skip
    assert done.exit_code == 1 and "listed already" in done.output
