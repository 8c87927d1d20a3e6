"""Erasure (SPEC §4 "Erasure without rewriting", §3 `ErasureRecorded`, §6 `POST
/v1/erasures`), on both backends, with a canary in every sealed field a request's
commands can carry and in the metadata:

- the answer says what was erased; the rules answer 409 (`position_exists`,
  `not_already_erased`), other roles 403, nothing written;
- afterwards no table holds a canary (a logical dump of the whole database), nor does
  `/v1/events`, the export, the state or the history, which show the marker instead;
- the chain, the Merkle tree and the checkpoints verify; an export of the erased log
  imports into an empty database and verifies there; proofs of erased events verify;
- the projections equal a rebuild; on SQLite the database file holds no canary either.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from events.merkle import verify_inclusion
from events.receipt.verify import verify_receipt
from events.store import EventStore
from events.transfer import export_log, import_log
from events.verify_chain import verify_store_chain
from events.verify_log import verify_log
from service.platform.tokens import create_token
from tests.api.conftest import Api, ago, seat, submission

pytestmark = pytest.mark.filterwarnings("ignore")

CANARY = "CANARY7f3e"


def _canaried(name: str) -> str:
    return f"{CANARY}-{name}"


async def _request_with_canaries(api: Api) -> tuple[str, dict[str, str]]:
    """A request whose sealed fields and metadata all hold canaries, walked through
    circulation, a hold and its release, questions and answers, a review, approval, a
    shipment and an annotation; the projections caught up."""
    engine = api.app.state.runtime.engine
    token = await create_token(engine, "secretariat", _canaried("actor"), None)
    headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": _canaried("corr")}

    async def ok(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await api.client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer

    body = submission(
        occurred_at=ago(40),
        purpose=_canaried("purpose"),
        beneficiaries=_canaried("beneficiaries"),
        requested_validity_months=9,
        justification=_canaried("justification"),
    )
    rid: str = (await ok("/v1/requests", body))["request_id"]
    base = f"/v1/requests/{rid}"
    await ok(f"{base}/circulate", {"occurred_at": ago(30), "deadline": ago(20)})
    await ok(
        f"{base}/holds",
        {
            "member": "USA",
            "reason": _canaried("reason"),
            "note": _canaried("note"),
            "occurred_at": ago(25),
        },
    )
    await ok(f"{base}/holds/USA/release", {"note": _canaried("release"), "occurred_at": ago(24)})
    await ok(
        f"{base}/information-requests",
        {"requested_by": "FRA", "questions": _canaried("questions"), "occurred_at": ago(23)},
    )
    await ok(
        f"{base}/information-responses", {"response": _canaried("response"), "occurred_at": ago(22)}
    )
    await ok(
        f"{base}/reviews",
        {
            "step": "legal",
            "outcome": "cleared",
            "note": _canaried("review"),
            "occurred_at": ago(21),
        },
    )
    approved = await ok(f"{base}/decision", {"outcome": "approved", "letter_ref": "S/AC.49/2026/7"})
    answer = await ok(
        f"{base}/annotations",
        {"target_position": approved["position"], "text": _canaried("annotation")},
    )
    await api.app.state.runtime.runner.catch_up()
    return rid, {"head": str(answer["position"])}


def _outside_tokens(dump: str) -> str:
    """The dump without the token registry: a token's own name is not a value of the log
    (an erasure of events leaves it; docs/OPERATIONS.md says what to do about it)."""
    return "\n".join(
        line
        for line in dump.splitlines()
        if not line.startswith(('INSERT INTO "tokens"', "tokens: "))
    )


async def _dump(api: Api) -> str:
    """Every row of every table as text: SQLite's `iterdump`, PostgreSQL's rows as text."""
    engine = api.app.state.runtime.engine
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            raw = await conn.get_raw_connection()

            def dump(connection: Any) -> str:
                return "\n".join(connection.iterdump())

            driver: Any = raw.driver_connection
            return str(await driver._execute(dump, driver._conn))
        tables = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
        lines: list[str] = []
        for (table,) in tables.all():
            rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
            lines += [f"{table}: {row[0]}" for row in rows]
        return "\n".join(lines)


async def _projection_rows(api: Api) -> dict[str, list[str]]:
    engine = api.app.state.runtime.engine
    found: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for table in ("request_state", "holds"):
            rows = await conn.execute(text(f'SELECT * FROM "{table}"'))
            found[table] = sorted(repr(tuple(row)) for row in rows)
    return found


async def test_an_erased_request_leaves_no_copy_and_every_proof_stands(
    api: Api, tmp_path: Path, second_database_url: str
) -> None:
    await seat(api)
    rid, _ = await _request_with_canaries(api)
    assert CANARY in await _dump(api)  # the canaries are where an erasure must reach
    runtime = api.app.state.runtime
    store: EventStore = runtime.store
    stream = await store.read_stream(f"request-{rid}")
    await runtime.tree.sign_checkpoint(runtime.signer, runtime.settings.log_origin)
    before_size, _ = await store.head()
    receipt_before = (await api.get(f"/public/requests/{rid}/receipt", None)).json()
    assert verify_receipt(receipt_before, runtime.signer.verifier_key()).ok

    for role in ("auditor", "applicant", None):
        refused = await api.post(
            "/v1/erasures", {"request_id": rid, "reason": "r", "decided_by": "d"}, role
        )
        assert refused.status_code in (401, 403), refused.text
    answer = await api.ok(
        "/v1/erasures",
        {
            "request_id": rid,
            "reason": "data-protection request 12",
            "decided_by": "Committee, 2026-12-06",
        },
    )
    by = answer["position"]
    assert [item["position"] for item in answer["erased"]] == [e.position for e in stream]
    assert answer["events"][0]["event_type"] == "ErasureRecorded"
    assert answer["events"][0]["data"]["positions"] == [e.position for e in stream]

    again = await api.post("/v1/erasures", {"request_id": rid, "reason": "r", "decided_by": "d"})
    assert again.status_code == 409 and again.json()["rule"] == "not_already_erased"
    partly = await api.post(
        "/v1/erasures",
        {"positions": [stream[0].position, by + 50], "reason": "r", "decided_by": "d"},
    )
    assert partly.status_code == 409 and partly.json()["rule"] == "position_exists"
    assert (await store.head())[0] == by  # nothing written by the refusals

    await runtime.runner.catch_up()
    assert CANARY not in _outside_tokens(await _dump(api))
    marker = {"erased": True, "by": by}
    events = (await api.get("/v1/events", params={"limit": 1000})).json()["items"]
    assert CANARY not in orjson.dumps(events).decode()
    erased = [e for e in events if e["position"] in answer["events"][0]["data"]["positions"]]
    assert erased and all(e["salt"] is None and e["metadata"] == marker for e in erased)
    assert erased[0]["data"]["purpose"] == marker and erased[0]["data"]["title"]  # clear kept
    for path in (f"/v1/requests/{rid}", f"/v1/requests/{rid}/history", "/v1/export"):
        shown = await api.get(path)
        assert shown.status_code == 200 and CANARY not in shown.text, path
    assert (await api.state(rid))["purpose"] == marker
    assert (await api.state(rid))["status"] == "active"  # what the committee decided stands

    # every hash, root and checkpoint verifies; proofs of the erased events too
    report = await verify_log(store, runtime.signer.verifier_key())
    assert report.ok, report
    for event in erased:
        proof = (
            await api.get(
                "/v1/log/proofs/inclusion",
                params={"position": event["position"], "tree_size": before_size},
            )
        ).json()
        verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            proof["leaf_index"],
            proof["tree_size"],
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(proof["root"]),
        )
    # the receipt of the approved request: the same disclosed events, and it verifies
    receipt = (await api.get(f"/public/requests/{rid}/receipt", None)).json()
    check = verify_receipt(receipt, runtime.signer.verifier_key())
    assert check.ok, check.failures
    assert [e["sealed"] for e in receipt["events"]] == [
        e["sealed"] for e in receipt_before["events"]
    ]
    exported = tmp_path / "erased.jsonl"
    with exported.open("wb") as out:
        await export_log(store, out)
    assert CANARY not in exported.read_text()
    async with await EventStore.open(second_database_url) as target:
        assert await import_log(target, exported) == by
        assert (await verify_store_chain(target)).ok
        assert [e.wire() for e in await target.read_all(0, 1000)] == [
            e.wire() for e in await store.read_all(0, 1000)
        ]

    # the projections folded the markers as a rebuild does
    incremental = await _projection_rows(api)
    await runtime.runner.rebuild()
    assert await _projection_rows(api) == incremental

    if store.engine.dialect.name == "sqlite":
        async with store.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = await asyncio.to_thread(Path(store.engine.url.database or "").read_bytes)
        # the pages erased values lived in were overwritten (secure_delete); the one copy
        # left is the token registry's name of the token that sent the commands
        assert raw.count(CANARY.encode()) == raw.count(_canaried("actor").encode()) == 1
