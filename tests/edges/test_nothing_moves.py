"""Nothing public moves on a sealed or confidential event (SPEC §7), over random histories.

A world of public and confidential requests is built through the API; hypothesis then
draws sequences of events the public may not see — holds placed and released, questions
and answers, review steps, annotations, departures lapsing holds, and the submission,
circulation, refusal and withdrawal of confidential requests — and appends them one by
one. Around each, every public answer (JSON, feeds, CSV, HTML, `/readyz`, `/healthz`)
is fetched: its status, body, ETag and Last-Modified must stay the same. The aggregates
(`/public/stats`, `/stats`) count confidential requests too, but once a day, from a
checkpoint signed the day before (SPEC §7): within the day they do not move either.
The published checkpoint is left out: it moves at the coarse cadence of SPEC §7.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api, Clock, ago, make_request, open_api, seat

#: Members that may depart (their holds lapse); the permanent five never do.
ELECTED = ("DNK", "PAK", "GRC", "SOM", "SLE", "DZA", "GUY", "KOR", "PAN")
AGGREGATES = ("/public/stats", "/stats")


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.public: list[str] = []
        self.confidential: list[str] = []
        self.seated: list[str] = ["USA", "FRA", "GBR", "CHN", "RUS", *ELECTED]

    def paths(self) -> list[str]:
        ids = [*self.public, *self.confidential[:3]]
        return [
            "/public/requests",
            "/public/requests?status=pending",
            "/public/feed.atom",
            "/public/feed.json",
            "/public/requests.csv",
            "/",
            "/readyz",
            "/healthz",
            *AGGREGATES,
            *(f"/public/requests/{rid}" for rid in ids),
            *(f"/requests/{rid}" for rid in ids),
            # receipts of public requests, and the one 404 of confidential ones
            *(f"/public/requests/{rid}/receipt" for rid in ids),
        ]

    async def caught_up(self) -> None:
        runner = self.api.app.state.runtime.runner
        await runner.catch_up()

    async def snapshot(self) -> dict[str, tuple[int, bytes, str, str]]:
        await self.caught_up()
        out = {}
        for path in self.paths():
            r = await self.api.get(path, None)
            out[path] = (
                r.status_code,
                r.content,
                r.headers.get("etag", ""),
                r.headers.get("last-modified", ""),
            )
        return out


async def _world(api: Api, clock: Clock) -> World:
    await seat(api, ("CHN", "FRA", "GBR", "RUS", "USA", *ELECTED))
    w = World(api)
    for state in ("submitted", "circulated", "on_hold", "awaiting_decision"):
        w.public.append(await make_request(api, state, disclosure="public"))
    w.public.append(await make_request(api, "approved"))  # confidential, then approved
    for state in ("submitted", "circulated", "on_hold", "information_pending"):
        w.confidential.append(await make_request(api, state, holder="DNK"))
    # a checkpoint of the world signed today, and the clock fixed at tomorrow: the
    # statistics show the world (not an empty log), and days pending do not tick mid-test
    runtime = api.app.state.runtime
    assert await runtime.tree.sign_checkpoint(runtime.signer, runtime.settings.log_origin)
    clock.advance(days=1)
    stats = await api.get("/public/stats", None)
    assert stats.json()["total"] == len(w.public) + len(w.confidential), stats.text
    return w


ACTIONS = (
    "hold",
    "release",
    "question",
    "answer",
    "review",
    "annotate",
    "depart",
    "submit",
    "circulate",
    "refuse",
    "withdraw",
)
steps = st.lists(
    st.tuples(
        st.sampled_from(ACTIONS), st.integers(0, 50), st.sampled_from(("USA", "FRA", *ELECTED))
    ),
    min_size=1,
    max_size=4,
)


async def _apply(w: World, action: str, index: int, member: str) -> None:
    """Append one event the public may not see (or be refused by the rules: no event)."""
    api = w.api
    any_request = [*w.public, *w.confidential]
    rid = any_request[index % len(any_request)]
    secret = w.confidential[index % len(w.confidential)]
    base = f"/v1/requests/{rid}"
    if action == "hold":
        await api.post(f"{base}/holds", {"member": member, "reason": "sealed"})
    elif action == "release":
        await api.post(f"{base}/holds/{member}/release", {"note": "sealed"})
    elif action == "question":
        await api.post(f"{base}/information-requests", {"requested_by": member, "questions": "q"})
    elif action == "answer":
        await api.post(f"{base}/information-responses", {"response": "sealed answer"})
    elif action == "review":
        await api.post(f"{base}/reviews", {"step": "legal", "outcome": "ok", "note": "n"})
    elif action == "annotate":
        history = (await api.get(f"{base}/history")).json()["items"]
        target = history[index % len(history)]["position"]
        await api.post(f"{base}/annotations", {"target_position": target, "text": "sealed"})
    elif action == "depart":
        if member in w.seated and member in ELECTED:
            answer = await api.post(f"/v1/committee/members/{member}/depart", {"on": ago(0)[:10]})
            if answer.status_code == 200:
                w.seated.remove(member)
    elif action == "submit":
        w.confidential.append(await make_request(w.api, "submitted"))
    elif action == "circulate":
        await api.post(f"/v1/requests/{secret}/circulate", {})
    elif action == "refuse":
        await api.post(f"/v1/requests/{secret}/decision", {"outcome": "refused", "reason": "r"})
    elif action == "withdraw":
        await api.post(f"/v1/requests/{secret}/withdraw", {"reason": "sealed"})


async def _step(w: World, action: str, index: int, member: str) -> int:
    """Apply one drawn event around two snapshots; the number of events appended."""
    before = await w.snapshot()
    head = await w.api.head()
    await _apply(w, action, index, member)
    after = await w.snapshot()
    appended = await w.api.head() - head
    moved: list[str] = []
    for path, (status, body, etag, modified) in before.items():
        now: Any = after[path]
        if (status, body, etag, modified) != now:
            names = ("status", "body", "etag", "last-modified")
            pairs = zip(names, (status, body, etag, modified), now, strict=True)
            what = [name for name, old, new in pairs if old != new]
            moved.append(f"{path}: {what}")
    assert not moved, (action, index, member, appended, moved)
    return appended


def test_no_public_answer_moves_on_a_sealed_or_confidential_event(
    database_url: str, tmp_path: Path
) -> None:
    loop = asyncio.new_event_loop()
    # The factories date the world from the day the suite runs (`ago`); the runtime's
    # clock starts there and is then fixed (`_world`). No checkpoint while it runs: the
    # grid's ticks are 317 years apart (1970, 2286), and the event count is never reached.
    clock = Clock(datetime.now(UTC))
    opened: AsyncGenerator[Api] = open_api(
        database_url,
        tmp_path,
        clock=clock,
        checkpoint_interval_seconds=10**10,
        checkpoint_interval_events=10**9,
    )  # type: ignore[assignment]
    try:
        api = loop.run_until_complete(anext(opened))
        world = loop.run_until_complete(_world(api, clock))
        appended: list[int] = []

        @settings(
            max_examples=12,
            deadline=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: slow here
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(drawn=steps)
        def run(drawn: list[tuple[str, int, str]]) -> None:
            for action, index, member in drawn:
                appended.append(loop.run_until_complete(_step(world, action, index, member)))

        run()
        # the property was tried on real events, not only on refused commands
        assert sum(appended) >= 10, appended
    finally:
        loop.run_until_complete(opened.aclose())
        loop.close()
