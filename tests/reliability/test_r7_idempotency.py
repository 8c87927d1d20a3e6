"""R7: the same `Idempotency-Key` sent 20 times at once, over real HTTP, to two servers on
one database: one event (or one set of events), 20 identical answers.

Rounds cover a submission whose id the server assigns, a hold, and a member's atomic
release of all its holds (events in several streams); each round is repeated so the
duplicates meet at different moments of the first one's commit.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import run_async
from tests.reliability.conftest import (
    SUBMISSION,
    Deployment,
    all_events,
    head_position,
    open_requests,
    report,
    seat_committee,
)

pytestmark = pytest.mark.postgres

COPIES = 20


async def _twenty(
    sessions: list[httpx.AsyncClient], dep: Deployment, path: str, body: dict[str, Any]
) -> list[httpx.Response]:
    headers = dep.headers(**{"Idempotency-Key": f"rel-{uuid.uuid4()}"})
    return list(
        await asyncio.gather(
            *(
                sessions[i % len(sessions)].post(path, json=body, headers=headers)
                for i in range(COPIES)
            )
        )
    )


def _same(answers: list[httpx.Response]) -> dict[str, Any]:
    first = answers[0]
    assert 200 <= first.status_code < 300, first.text
    for other in answers[1:]:
        assert other.status_code == first.status_code, (first.text, other.text)
        differ = {
            k: (first.json().get(k), other.json().get(k))
            for k in first.json()
            if first.json().get(k) != other.json().get(k)
        }
        assert not differ, str(differ)[:2000]
        assert other.headers.get("etag") == first.headers.get("etag")
    body: dict[str, Any] = first.json()
    return body


def test_twenty_copies_of_one_command(deployment: Deployment) -> None:
    dep = deployment
    servers = [dep.serve(), dep.serve()]

    async def run() -> dict[str, Any]:
        sessions = [
            httpx.AsyncClient(base_url=s.url, timeout=30, limits=httpx.Limits(max_connections=32))
            for s in servers
        ]
        rounds: dict[str, int] = {}
        try:
            client = sessions[0]
            await seat_committee(client, dep)
            ids = await open_requests(client, dep, 5)
            for repeat in range(5):
                head = await head_position(client, dep)
                body = _same(
                    await _twenty(
                        sessions,
                        dep,
                        "/v1/requests",
                        {**SUBMISSION, "occurred_at": "2026-03-02T15:00:00Z"},
                    )
                )
                assert len(body["events"]) == 1
                assert await head_position(client, dep) == head + 1
                rounds["submit"] = rounds.get("submit", 0) + 1

                for rid in ids:
                    head = await head_position(client, dep)
                    member = ["CHN", "FRA", "GBR", "RUS", "USA"][repeat]
                    body = _same(
                        await _twenty(
                            sessions, dep, f"/v1/requests/{rid}/holds", {"member": member}
                        )
                    )
                    assert [e["event_type"] for e in body["events"]] == ["HoldPlaced"]
                    assert await head_position(client, dep) == head + 1
                    rounds["hold"] = rounds.get("hold", 0) + 1

                head = await head_position(client, dep)
                member = ["CHN", "FRA", "GBR", "RUS", "USA"][repeat]
                body = _same(await _twenty(sessions, dep, f"/v1/members/{member}/release-all", {}))
                assert sorted(body["released"]) == ids
                assert len(body["events"]) == len(ids)
                assert await head_position(client, dep) == head + len(ids)
                rounds["release_all"] = rounds.get("release_all", 0) + 1

            log = await all_events(client, dep)
            assert [e["position"] for e in log] == list(range(1, len(log) + 1))
            assert len({e["event_id"] for e in log}) == len(log)
            return {"copies": COPIES, "rounds": rounds, "log_events": len(log)}
        finally:
            for session in sessions:
                await session.aclose()

    try:
        figures = run_async(run)
    except BaseException:
        print(dep.logs())
        raise
    report("R7", figures)
