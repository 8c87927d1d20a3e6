"""The public pages of a running Docket (demo data) in real Chromium: the request page
checks its receipt (a served receipt is reported verified in plain words; one with a
disclosed field changed on its way to the browser is reported failing, naming the event),
and the statistics page is shown at the end of a past day chosen in its form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.public.test_pages_browser import ARGS, CHROMIUM, _free_port, _need_chromium

pytestmark = pytest.mark.browser

DOCKET = Path(sys.executable).with_name("docket")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`docket migrate`, `docket demo` and `docket serve` on a fresh SQLite file."""
    _need_chromium()
    home = tmp_path_factory.mktemp("receipt-site")
    env = {
        **os.environ,
        "DOCKET_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'docket.db'}",
        "DOCKET_SIGNING_KEY_FILE": str(home / "signing.key"),
        "DOCKET_ENVIRONMENT": "development",
    }
    for command in (["migrate"], ["demo"]):
        subprocess.run([str(DOCKET), *command], env=env, cwd=home, check=True, timeout=120)
    port = _free_port()
    server = subprocess.Popen(
        [str(DOCKET), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/public/checkpoint", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("docket serve did not start")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _approved(site: str) -> str:
    """An approved exemption of the demo: active on the demo's own days, expired on a
    later day the suite may run on (R13); its receipt proves the same either way."""
    for status in ("active", "expired"):
        answer = httpx.get(f"{site}/public/requests", params={"status": status})
        if items := answer.json()["items"]:
            request_id: str = items[0]["request_id"]
            return request_id
    raise AssertionError("the demo has no approved exemption")


@pytest.fixture
def page(site: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        yield pg
        assert errors == [], errors
        browser.close()


def test_the_page_reports_its_receipt_verified(page: Any, site: str) -> None:
    request_id = _approved(site)
    receipt = httpx.get(f"{site}/public/requests/{request_id}/receipt").json()
    approval = next(e for e in receipt["events"] if e["event_type"] == "ExemptionApproved")
    page.goto(f"{site}/requests/{request_id}")
    page.wait_for_selector("#receipt-outcome[data-verified=yes]", timeout=15_000)
    shown = page.locator("#receipt-outcome").inner_text()
    assert (
        f"This approval is in the committee's signed log at position {approval['position']}"
        in shown
    )
    assert approval["data"]["letter_ref"] in shown
    link = page.locator(f"a[download='receipt-{request_id}.json']")
    assert link.get_attribute("href") == f"/public/requests/{request_id}/receipt"
    assert f"docket receipt verify receipt-{request_id}.json" in page.content()
    # each proved event as a .tlog-proof download, served as the receipt holds it
    proofs = page.locator("#receipt-outcome ul.tlog-proofs a[download]")
    assert proofs.count() == len(receipt["events"])
    first = receipt["events"][0]
    assert proofs.first.get_attribute("download") == f"{request_id}-{first['position']}.tlog-proof"
    assert httpx.get(site + str(proofs.first.get_attribute("href"))).text == first["tlog_proof"]


def test_a_tampered_receipt_is_reported_failing(page: Any, site: str) -> None:
    request_id = _approved(site)
    receipt = httpx.get(f"{site}/public/requests/{request_id}/receipt").json()
    index = next(
        i for i, e in enumerate(receipt["events"]) if e["event_type"] == "ExemptionApproved"
    )
    receipt["events"][index]["data"]["valid_until"] = "2031-12-31"
    forged = receipt["events"][index]

    def forge(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(receipt))

    page.route(f"**/public/requests/{request_id}/receipt", forge)
    page.goto(f"{site}/requests/{request_id}")
    page.wait_for_selector("#receipt-outcome[data-verified=no]", timeout=15_000)
    shown = page.locator("#receipt-outcome").inner_text()
    assert shown.startswith(f"Not verified: this receipt of {request_id} does not check out.")
    where = f"event at position {forged['position']} (stream version {forged['stream_version']})"
    assert f"inclusion proof: {where}" in shown


def _amended(site: str) -> tuple[str, dict[str, Any]]:
    """A demo request whose receipt proves an approved amendment, and that receipt."""
    items = httpx.get(f"{site}/public/requests", params={"limit": 100}).json()["items"]
    for item in items:
        url = f"{site}/public/requests/{item['request_id']}/receipt"
        receipt: dict[str, Any] = httpx.get(url).json()
        if any(e["event_type"] == "AmendmentApproved" for e in receipt["events"]):
            return item["request_id"], receipt
    raise AssertionError("the demo has no public amended request")


def test_a_receipt_with_its_amendment_taken_out_is_refused(page: Any, site: str) -> None:
    request_id, receipt = _amended(site)
    [amendment] = [e for e in receipt["events"] if e["event_type"] == "AmendmentApproved"]
    receipt["events"].remove(amendment)

    def forge(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(receipt))

    page.route(f"**/public/requests/{request_id}/receipt", forge)
    page.goto(f"{site}/requests/{request_id}")
    page.wait_for_selector("#receipt-outcome[data-verified=no]", timeout=15_000)
    shown = page.locator("#receipt-outcome").inner_text()
    assert shown.startswith(f"Not verified: this receipt of {request_id} does not check out.")
    assert f"statement: event at position {amendment['position']}: " in shown
    assert "leaves it out" in shown
    assert "newest witness cosignature:" in shown


def test_stats_page_at_the_end_of_a_past_day(site: str, page: Any) -> None:
    pg = page
    pg.goto(site + "/stats")
    pg.fill("#f-as-of", "2026-01-31")
    pg.click("form[action='/stats'] button[type=submit]")
    pg.wait_for_url("**/stats?as_of=2026-01-31")
    assert pg.locator("h1").inner_text() == "Statistics at the end of 2026-01-31"
    assert pg.locator("svg[role=img]").count() == 2
    assert pg.locator("#f-as-of").input_value() == "2026-01-31"
    pg.click("a.reset")
    pg.wait_for_url("**/stats")
    assert pg.locator("h1").inner_text() == "Statistics"
