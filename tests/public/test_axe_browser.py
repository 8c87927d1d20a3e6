"""WCAG 2.1 AA on the public pages, measured with axe-core in Debian's Chromium.

The demo site (`docket demo`, served by `docket serve`) is opened at three widths: a desktop
(1280 px), the same desktop at 200 % zoom (640 CSS px, SC 1.4.4) and at 400 % zoom or a
phone (320 CSS px, SC 1.4.10 reflow). On each, axe-core (bundled in axe-playwright-python,
so nothing is fetched) must find no violation of the WCAG 2.0/2.1 A and AA rules, and the page
itself must not scroll sideways: what is wider than the screen (a chart, a table, a command
line) wraps or scrolls inside its own focusable, named box.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.public.test_pages_browser import ARGS, CHROMIUM
from tests.public.test_request_receipt_browser import _approved, site  # noqa: F401

pytestmark = pytest.mark.browser

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# name: (CSS width, CSS height, device pixels per CSS pixel)
WIDTHS = {
    "1280": (1280, 900, 1),
    "640-zoom200": (640, 450, 2),
    "320": (320, 568, 2),
}
PAGES = ["/", "/requests/{approved}", "/stats"]


@pytest.fixture(scope="module")
def chromium(site: str) -> Iterator[Any]:  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _axe_violations(pg: Any) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    results = Axe().run(
        pg,
        options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]},
    )
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def _summary(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"])
        for v in violations
    )


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("path", PAGES)
def test_no_wcag_aa_violations(chromium: Any, site: str, path: str, width: str) -> None:  # noqa: F811
    w, h, scale = WIDTHS[width]
    context = chromium.new_context(viewport={"width": w, "height": h}, device_scale_factor=scale)
    try:
        pg = context.new_page()
        from playwright.sync_api import expect

        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        url = site + path.format(approved=_approved(site))
        assert pg.goto(url).status == 200
        if "/requests/" in path:
            # The receipt check fills in its outcome (and the .tlog-proof downloads) first.
            outcome = pg.locator("#receipt-outcome")
            expect(outcome).not_to_contain_text("is checking", timeout=30_000)
        violations = _axe_violations(pg)
        assert violations == [], f"{url} at {width}:\n{_summary(violations)}"
        sideways = pg.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert sideways <= 0, f"{url} at {width} scrolls sideways by {sideways} px (SC 1.4.10)"
        assert errors == [], errors
    finally:
        context.close()


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _rgb(css: str) -> tuple[int, int, int]:
    parts = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    return int(parts[0]), int(parts[1]), int(parts[2])


def test_the_focus_ring_stands_out_from_the_page(chromium: Any, site: str) -> None:  # noqa: F811
    """SC 1.4.11: the keyboard focus ring of a link in the page is at least 3:1 against
    the page's background (axe-core does not measure focus indicators)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        pg = context.new_page()
        pg.goto(site + "/stats")
        background = _rgb(pg.evaluate("getComputedStyle(document.body).backgroundColor"))
        for _ in range(40):
            pg.keyboard.press("Tab")
            if pg.evaluate("!!document.activeElement.closest('main')"):
                break
        ring = _rgb(pg.evaluate("getComputedStyle(document.activeElement).outlineColor"))
        style = pg.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert style != "none"
        assert _contrast(ring, background) >= 3, (ring, background)
        assert _contrast(ring, (255, 255, 255)) >= 3, ring
    finally:
        context.close()
