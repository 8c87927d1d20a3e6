"""R1: two API processes on one PostgreSQL database, 64 clients racing with `If-Match`.

Must hold: no acknowledged event lost or duplicated, positions and per-stream versions
without gaps, `docket verify` exits 0, every refusal a 409 or 412 (never a 5xx), and the
projections the servers kept equal a `docket rebuild`.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import run_async
from tests.reliability.conftest import (
    Deployment,
    all_events,
    assert_rebuild_equal,
    assert_verify_ok,
    check_log,
    open_requests,
    projection_rows,
    report,
    seat_committee,
    soak_only,
    wait_caught_up,
)
from tests.reliability.load import run_hold_load

pytestmark = pytest.mark.postgres


def _race(dep: Deployment, requests: int, commands: int, seconds: float) -> dict[str, object]:
    first, second = dep.serve(), dep.serve()
    urls = [first.url, second.url]

    async def load() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            await seat_committee(client, dep)
            ids = await open_requests(client, dep, requests)
            setup = await all_events(client, dep)
            started = time.monotonic()
            tally = await run_hold_load(dep, urls, ids, commands=commands, seconds=seconds)
            elapsed = time.monotonic() - started
            assert not tally.unexpected, tally.unexpected[:10]
            assert not tally.not_problem, tally.not_problem[:10]
            assert tally.transport_errors == 0 and tally.unanswered == 0
            assert tally.duplicates_acked == 0
            assert tally.sent == commands, f"only {tally.sent} of {commands} sent in {seconds}s"
            log = await all_events(client, dep)
            checked = check_log(log, tally.events)
            # no fault here: exactly the acknowledged commands were written, nothing else
            assert checked["events"] == len(setup) + len(tally.events)
            for url in urls:
                async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
                    await wait_caught_up(probe, dep.headers())
            return {
                **tally.figures(),
                "requests": requests,
                "log_events": checked["events"],
                "lost": checked["lost"],
                "duplicated": tally.duplicates_acked,
                "seconds": round(elapsed, 1),
                "commands_per_s": round(commands / elapsed),
            }

    try:
        figures = run_async(load)
    except BaseException:
        print(dep.logs())
        raise
    dep.stop_all()
    figures["verify"] = assert_verify_ok(dep)
    before = run_async(lambda: projection_rows(dep))
    assert before["request_state"], "no projection rows"
    assert_rebuild_equal(dep, before)
    return figures


def test_two_servers_race_short(deployment: Deployment) -> None:
    report("R1-short", _race(deployment, requests=40, commands=2_000, seconds=60))


@pytest.mark.slow
@pytest.mark.timeout(900)
@soak_only
def test_two_servers_race_soak(deployment: Deployment) -> None:
    report("R1-soak", _race(deployment, requests=200, commands=20_000, seconds=400))
