"""`docket erase` (SPEC §8) in a pipe: no question asked, one line per erased event,
`docket verify` still passes; a second erasure of the same positions exits 1 naming the
rule and writes nothing; a request erased whole."""

from __future__ import annotations

from datetime import UTC, datetime

from events.model import NewEvent, StreamAppend
from events.store import EventStore
from tests.events.test_store_contract import run_docket

T0 = datetime(2026, 2, 5, 15, 4, 5, tzinfo=UTC)


async def test_docket_erase_by_positions_and_by_request(
    store: EventStore, database_url: str
) -> None:
    submitted = {
        "request_id": "HX-2026-0001",
        "applicant": {"name": "WHO", "kind": "un_agency"},
        "channel": "direct",
        "title": "Wells",
        "purpose": "canary-purpose",
        "beneficiaries": "canary-beneficiaries",
        "items": [{"description": "pump", "quantity": 1, "unit": "unit", "value_usd": 1}],
    }
    request = "request-HX-2026-0001"
    await store.append(
        StreamAppend(
            request,
            "no_stream",
            [
                NewEvent(request, "RequestSubmitted", submitted, T0),
                *(
                    NewEvent(
                        request, "EntryAnnotated", {"target_position": 1, "text": f"canary-{n}"}, T0
                    )
                    for n in (1, 2)
                ),
            ],
        )
    )
    await store.append(
        StreamAppend(
            "other",
            "any",
            [NewEvent("other", "Noted", {"secret": f"canary-{n}"}, T0) for n in range(3)],
        )
    )
    code, out = await run_docket(
        database_url,
        "erase",
        "--position", "4",
        "--position", "5",
        "--reason", "asked by the person",
        "--decided-by", "Committee",
    )  # fmt: skip
    assert code == 0, out
    assert "erased 4 other Noted" in out and "erased 5 other Noted" in out, out
    assert "recorded ErasureRecorded at position 7" in out
    assert "?" not in out  # no confirmation asked in a pipe
    code, out = await run_docket(database_url, "verify")
    assert code == 0 and out.startswith("ok: 7 events"), out

    code, out = await run_docket(
        database_url, "erase", "--position", "5", "--reason", "again", "--decided-by", "C"
    )
    assert code == 1 and "not_already_erased" in out, out
    assert (await store.head())[0] == 7

    code, out = await run_docket(
        database_url, "erase", "--request", "HX-2026-0001", "--reason", "r", "--decided-by", "C"
    )
    assert code == 0, out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("erased ")] == [
        "1",
        "2",
        "3",
    ]
    events = await store.read_all(0, 100)
    assert all(e.erased for e in events if e.position in (1, 2, 3, 4, 5))
    assert not any("canary" in str(e.data) for e in events if e.position <= 5)
    code, out = await run_docket(database_url, "verify")
    assert code == 0, out
