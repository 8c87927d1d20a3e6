"""R3: PostgreSQL stopped under load for a few seconds, then started again.

Must hold: while the database is down every answer is a 503 problem with `Retry-After`
(never a 500, never a hang: clients give up after 10 s and that counts as a failure); full
service (a read, a command and `/readyz`) again within 5 s of the database being back,
with the same server process. Stopping PostgreSQL disturbs everyone using it, so the window
is kept to a few seconds and the database is always started again in `finally`.

The cluster is driven with `pg_ctlcluster`; without it (or not as root) the test skips.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

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
from tests.reliability.load import Tally, run_hold_load

pytestmark = pytest.mark.postgres

RECOVERY_BOUND_S = 5.0


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the local cluster, if this process may stop and start it."""
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        return None
    versions = sorted(Path("/etc/postgresql").glob("*/main"))
    if not versions:
        return None
    return versions[-1].parent.name, "main"


def _pg_ctl(action: str) -> None:
    cluster = _cluster()
    assert cluster is not None
    args = ["pg_ctlcluster", "--skip-systemctl-redirect"]
    if action == "stop":
        args += ["--mode", "fast"]
    subprocess.run([*args, *cluster, action], check=True, timeout=60, capture_output=True)


def _outage(dep: Deployment, requests: int, outages: int, down_s: float, seconds: float) -> Any:
    server = dep.serve()

    async def load() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            await seat_committee(client, dep)
            ids = await open_requests(client, dep, requests + 1)
            probe_id, ids = ids[-1], ids[:-1]
            tally = Tally()
            work = asyncio.create_task(
                run_hold_load(
                    dep,
                    [server.url],
                    ids,
                    commands=10**7,  # bounded by time
                    clients=32,
                    seconds=seconds,
                    allowed=frozenset({409, 412, 503}),
                    tally=tally,
                    write_blind=True,
                )
            )
            recoveries: list[float] = []
            outage_answers: list[int] = []
            try:
                for k in range(outages):
                    await asyncio.sleep(1.5)
                    before = tally.statuses[503] + tally.read_statuses[503]
                    try:
                        await asyncio.to_thread(_pg_ctl, "stop")
                        await asyncio.sleep(down_s)
                    finally:
                        await asyncio.to_thread(_pg_ctl, "start")
                    back = time.monotonic()
                    outage_answers.append(tally.statuses[503] + tally.read_statuses[503] - before)
                    recoveries.append(await _full_service(client, dep, probe_id, back, k))
            finally:
                await work
            assert not tally.unexpected, tally.unexpected[:10]
            assert not tally.not_problem, tally.not_problem[:10]
            assert tally.transport_errors == 0 and tally.unanswered == 0, "an answer hung"
            assert all(n > 0 for n in outage_answers), "no 503 seen while the database was down"
            assert max(recoveries) <= RECOVERY_BOUND_S, recoveries
            log = await all_events(client, dep)
            checked = check_log(log, tally.events)
            await wait_caught_up(client, dep.headers())
            return {
                **tally.figures(),
                "outages": outages,
                "down_seconds": down_s,
                "answers_503_during_outage": outage_answers,
                "full_service_after_s": [round(r, 2) for r in recoveries],
                "log_events": checked["events"],
                "lost": checked["lost"],
            }

    try:
        figures = run_async(load)
    except BaseException:
        print(dep.logs())
        raise
    finally:
        _ensure_up()
    dep.stop_all()
    figures["verify"] = assert_verify_ok(dep)
    assert_rebuild_equal(dep, run_async(lambda: projection_rows(dep)))
    return figures


def _ensure_up() -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *(_cluster() or ()), "start"],
        timeout=60,
        capture_output=True,
        check=False,
    )


async def _full_service(
    client: httpx.AsyncClient, dep: Deployment, probe_id: str, back: float, k: int
) -> float:
    """Seconds from the database being back to a read, a command and `/readyz` all
    succeeding on the same server (polled every 100 ms, bounded at 30 s)."""
    member = "FRA"
    while time.monotonic() - back < 30:
        try:
            read = await client.get(f"/v1/requests/{probe_id}", headers=dep.headers())
            ready = await client.get("/readyz")
            if read.status_code == 200 and ready.status_code == 200:
                held = any(h["member"] == member for h in read.json()["active_holds"])
                if held:
                    path, body = f"/v1/requests/{probe_id}/holds/{member}/release", {}
                else:
                    path, body = f"/v1/requests/{probe_id}/holds", {"member": member}
                wrote = await client.post(path, json=body, headers=dep.headers())
                if wrote.status_code == 200:
                    return time.monotonic() - back
                assert wrote.status_code in (409, 503), wrote.text
        except httpx.TimeoutException as error:
            raise AssertionError(f"a probe hung after outage {k}") from error
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"no full service 30 s after outage {k}:\n{dep.logs()}")


needs_cluster = pytest.mark.skipif(
    _cluster() is None, reason="needs pg_ctlcluster and root to stop the local PostgreSQL"
)


@needs_cluster
def test_database_outage_short(deployment: Deployment) -> None:
    report("R3-short", _outage(deployment, 20, outages=1, down_s=3.0, seconds=12))


@pytest.mark.slow
@pytest.mark.timeout(900)
@soak_only
@needs_cluster
def test_database_outage_soak(deployment: Deployment) -> None:
    report("R3-soak", _outage(deployment, 100, outages=3, down_s=4.0, seconds=40))
