"""The public pages in a real browser (Debian's chromium through Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.public.scenario import make_app, scenario

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _need_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing and CI=true: install Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing: `apt-get install -y chromium` to run browser tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _need_chromium()
    port = _free_port()
    config = uvicorn.Config(make_app(scenario()), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(params=sorted(SIZES))
def page(request: pytest.FixtureRequest, browser: object) -> Iterator[object]:
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    outside: list[str] = []
    pg = context.new_page()
    pg.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
    )
    pg.size_name = request.param
    yield pg
    context.close()
    assert outside == [], f"the page loaded something from outside the server: {outside}"


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{page.size_name}.png"  # type: ignore[attr-defined]
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    assert path.stat().st_size > 1000


def test_list_page(server: str, page: object) -> None:
    pg = page
    pg.goto(server + "/")  # type: ignore[attr-defined]
    assert pg.locator("h1").inner_text() == "Humanitarian exemptions"  # type: ignore[attr-defined]
    assert pg.get_attribute("html", "lang") == "en"  # type: ignore[attr-defined]
    for label in ("Search", "Status", "Year submitted"):
        assert pg.get_by_label(label).count() == 1  # type: ignore[attr-defined]
    cards = pg.locator(".card")  # type: ignore[attr-defined]
    assert cards.count() == 5
    text = pg.locator("main").inner_text()  # type: ignore[attr-defined]
    assert "SECRET" not in text and "confidential-org" not in text
    _shot(pg, "list")
    pg.get_by_label("Status").select_option("pending")  # type: ignore[attr-defined]
    pg.get_by_role("button", name="Filter").click()  # type: ignore[attr-defined]
    pg.wait_for_url("**status=pending**")  # type: ignore[attr-defined]
    assert pg.locator(".card").count() == 1  # type: ignore[attr-defined]
    assert "Solar water pumps" in pg.locator(".card").inner_text()  # type: ignore[attr-defined]
    overflow = pg.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    assert not overflow, "the list scrolls sideways"


def test_request_page(server: str, page: object) -> None:
    pg = page
    pg.goto(server + "/requests/HX-2025-0001")  # type: ignore[attr-defined]
    assert "Tuberculosis diagnostics" in pg.locator("h1").inner_text()  # type: ignore[attr-defined]
    svg = pg.locator("svg[role=img]").first  # type: ignore[attr-defined]
    assert svg.locator("> title").text_content().startswith("Timeline of request HX-2025-0001")
    assert svg.get_attribute("aria-label")
    dates = pg.locator("ol.dates li").all_inner_texts()  # type: ignore[attr-defined]
    assert any("Approved" in d and "2025-03-27" in d for d in dates)
    assert any("Shipment 2" in d for d in dates)
    text = pg.locator("body").inner_text()  # type: ignore[attr-defined]
    assert "BRA" not in text and "SECRET" not in text
    _shot(pg, "request")
    pg.goto(server + "/requests/HX-2025-0002")  # type: ignore[attr-defined]
    assert "Pending" in pg.locator("main").inner_text()  # type: ignore[attr-defined]
    _shot(pg, "request-pending")
    response = pg.goto(server + "/requests/HX-2025-0003")  # type: ignore[attr-defined]
    assert response.status == 404


def test_stats_page(server: str, page: object) -> None:
    pg = page
    pg.goto(server + "/stats")  # type: ignore[attr-defined]
    assert pg.locator("h1").inner_text() == "Statistics"  # type: ignore[attr-defined]
    charts = pg.locator("svg[role=img]")  # type: ignore[attr-defined]
    assert charts.count() == 2
    for i in range(2):
        assert charts.nth(i).locator("> title").text_content()
    assert pg.locator("table caption").count() >= 2  # type: ignore[attr-defined]
    assert "pending over 30 days" in pg.locator("main").inner_text()  # type: ignore[attr-defined]
    _shot(pg, "stats")
