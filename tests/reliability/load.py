"""The load the R-tests put on real servers: clients racing to place and release holds.

Each client, in a loop bounded by a command count and a wall-clock deadline, reads a
random request, picks a random seated member, and releases that member's hold if it has
one or places one if not, with `If-Match: "<stream_version it read>"`. Every answer is
tallied; every acknowledged (2xx) event is kept by id so that the log can be checked
against what the clients were told.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.reliability.conftest import MEMBERS, PROBLEM, Deployment


@dataclass
class Tally:
    """What the clients saw."""

    sent: int = 0  # commands (a retried command counts once)
    attempts: int = 0  # POSTs, retries included
    acknowledged: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # answers to commands
    read_statuses: Counter[int] = field(default_factory=Counter)  # answers to the reads
    transport_errors: int = 0
    unanswered: int = 0  # commands with no HTTP answer after every retry
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates_acked: int = 0  # the same event id acknowledged for two different commands
    unexpected: list[str] = field(default_factory=list)
    not_problem: list[str] = field(default_factory=list)
    slowest: float = 0.0

    @property
    def refused(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 400)

    def figures(self) -> dict[str, Any]:
        return {
            "commands_sent": self.sent,
            "posts": self.attempts,
            "acknowledged": self.acknowledged,
            "refused": self.refused,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "read_statuses": {str(k): v for k, v in sorted(self.read_statuses.items())},
            "transport_errors": self.transport_errors,
            "unanswered": self.unanswered,
            "acknowledged_events": len(self.events),
            "slowest_answer_s": round(self.slowest, 3),
        }


async def run_hold_load(
    dep: Deployment,
    urls: Sequence[str],
    request_ids: Sequence[str],
    *,
    commands: int,
    clients: int = 64,
    seconds: float = 60.0,
    allowed: frozenset[int] = frozenset({409, 412}),
    idempotency: bool = False,
    retries: int = 0,
    answer_timeout: float = 10.0,
    seed: int = 1718,
    tally: Tally | None = None,
    write_blind: bool = False,
) -> Tally:
    """Send `commands` hold commands from `clients` concurrent clients (bounded by
    `seconds`). With `retries`, a command that got no HTTP answer is sent again (with the
    same `Idempotency-Key` when `idempotency`) to the next server. Pass `tally` to watch
    progress from another task. With `write_blind`, a command whose read failed is sent
    anyway (placing a hold, without `If-Match`), so that writes meet the fault too."""
    tally = tally if tally is not None else Tally()
    deadline = time.monotonic() + seconds
    budget = iter(range(commands))

    async def client_loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        sessions = [
            httpx.AsyncClient(base_url=url, timeout=answer_timeout, headers=dep.headers())
            for url in urls
        ]
        home = index % len(urls)
        try:
            while time.monotonic() < deadline and next(budget, None) is not None:
                await one_command(rng, sessions, home)
        finally:
            for session in sessions:
                await session.aclose()

    async def one_command(rng: random.Random, sessions: list[httpx.AsyncClient], home: int) -> None:
        request_id = rng.choice(request_ids)
        state: dict[str, Any] | None = None
        for attempt in range(retries + 1):
            session = sessions[(home + attempt) % len(sessions)]
            try:
                r = await session.get(f"/v1/requests/{request_id}")
            except httpx.TransportError:
                tally.transport_errors += 1
                await asyncio.sleep(0.2)
                continue
            if r.status_code != 200:
                note(r, "GET")
                if not write_blind:
                    return
                break
            state = r.json()
            break
        if state is None and not write_blind:
            return
        member = rng.choice(MEMBERS)
        holders = {hold["member"] for hold in (state or {}).get("active_holds", [])}
        if member in holders:
            path, body = f"/v1/requests/{request_id}/holds/{member}/release", {}
        else:
            path, body = f"/v1/requests/{request_id}/holds", {"member": member}
        headers = {"If-Match": f'"{state["stream_version"]}"'} if state else {}
        if idempotency:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        tally.sent += 1
        for attempt in range(retries + 1):
            session = sessions[(home + attempt) % len(sessions)]
            tally.attempts += 1
            started = time.monotonic()
            try:
                r = await session.post(path, json=body, headers=headers)
            except httpx.TransportError:
                tally.transport_errors += 1
                await asyncio.sleep(0.2)
                continue
            finally:
                tally.slowest = max(tally.slowest, time.monotonic() - started)
            note(r, "POST")
            return
        tally.unanswered += 1

    def note(r: httpx.Response, method: str) -> None:
        (tally.statuses if method == "POST" else tally.read_statuses)[r.status_code] += 1
        if 200 <= r.status_code < 300:
            if method == "POST":
                tally.acknowledged += 1
                for event in r.json()["events"]:
                    if event["event_id"] in tally.events:
                        tally.duplicates_acked += 1
                    tally.events[event["event_id"]] = event
            return
        if r.status_code not in allowed:
            tally.unexpected.append(f"{method} {r.request.url.path} {r.status_code} {r.text[:300]}")
        if not r.headers.get("content-type", "").startswith(PROBLEM):
            tally.not_problem.append(f"{r.status_code} {r.headers.get('content-type')}")
        if r.status_code == 503 and "retry-after" not in r.headers:
            tally.not_problem.append("503 without Retry-After")

    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    return tally
