"""B11: verifying a receipt with 10 events (SPEC §6.2): in `docket receipt verify`
(interpreter start excluded, reported apart; target ≤ 20 ms) and in the browser with
`service/static/receipt.js` (Chromium; target ≤ 100 ms).

`--events N` is the size of the log the receipt's 10 events are proved in (proof depth
log2 N; default 200,000). The receipt is built in memory by the pure core
(`bench.receipt_sample`), signed by the log and cosigned by 3 witnesses (quorum 2).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench import receipt_page
from bench.cli import parser, report
from bench.db import Result
from bench.receipt_sample import Sample, sample
from events.receipt.summary import summary
from events.receipt.verify import verify_receipt

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 10


def in_process(s: Sample, path: Path, rounds: int = 200) -> list[float]:
    """What `docket receipt verify` does once its modules are loaded: read, parse, verify,
    put in words."""
    keys = [w.vkey for w in s.witnesses]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        check = verify_receipt(orjson.loads(path.read_bytes()), s.log_key, keys, s.quorum)
        summary(check)
        times.append(time.perf_counter() - start)
        assert check.ok, check.failures
    return times


def _wall(args: list[str], rounds: int = 5) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCKET_ENVIRONMENT": "test"}
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(done.stdout + done.stderr)
    return statistics.median(times)


def as_a_command(s: Sample, path: Path) -> dict[str, float]:
    command = [sys.executable, "-c", "from service.cli import app; app()", "receipt", "verify"]
    command += [str(path), "--log-key", s.log_key, "--quorum", str(s.quorum)]
    for w in s.witnesses:
        command += ["--witness", w.vkey]
    return {
        "interpreter": _wall([sys.executable, "-c", "pass"]),
        "imports": _wall([sys.executable, "-c", "import service.cli"]),
        "command": _wall(command),
    }


def in_the_browser(s: Sample) -> tuple[float, list[float]] | None:
    if not (Path(receipt_page.CHROMIUM).exists() or shutil.which("chromium")):
        return None
    from playwright.sync_api import sync_playwright

    keys = {"log": s.log_key, "witnesses": [w.vkey for w in s.witnesses], "quorum": s.quorum}
    files = {"good.json": json.dumps(s.receipt).encode(), "keys.json": json.dumps(keys).encode()}
    with receipt_page.serve(files) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=receipt_page.CHROMIUM, args=receipt_page.CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(url + "/")
            first = page.evaluate("run('good.json')")
            if not first["ok"]:
                raise RuntimeError(f"the browser refused the receipt: {first['failures']}")
            times: list[float] = page.evaluate("timed('good.json', 50)")
        finally:
            browser.close()
    return float(first["ms"]), times


def run(events: int = 200_000, mldsa: bool = False) -> Result:
    """With `mldsa`, the log signs with both keys and one witness of two cosigns with
    ML-DSA-44 (the statement stays Ed25519-signed)."""
    where = f"proofs in a log of {events:,}" + (", ML-DSA-44 lines" if mldsa else "")
    result = Result("B11", "verifying a receipt with 10 events", where)
    s = sample(EVENTS, witnesses=3, quorum=2, other_entries=events, mldsa=mldsa)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "receipt.json"
        path.write_bytes(orjson.dumps(s.receipt))
        result.add("receipt size", path.stat().st_size / 1024, "KiB")
        times = in_process(s, path)
        p50 = result.add(
            "docket receipt verify, in process, p50", statistics.median(times) * 1000, "ms"
        )
        result.add("docket receipt verify, in process, max", max(times) * 1000, "ms")
        result.check("docket receipt verify ≤ 20 ms (interpreter start excluded)", p50 <= 20)
        wall = as_a_command(s, path)
        result.add("  whole command, wall (info)", wall["command"] * 1000, "ms")
        result.add("  of which interpreter start (info)", wall["interpreter"] * 1000, "ms")
        result.add(
            "  of which importing service.cli (info)",
            (wall["imports"] - wall["interpreter"]) * 1000,
            "ms",
        )
    browser = in_the_browser(s)
    if browser is None:
        result.notes.append("browser skipped: no chromium (make browser installs it)")
    else:
        first, times = browser
        result.add("browser (Chromium, receipt.js), first verify", first, "ms")
        b50 = result.add(
            "browser (Chromium, receipt.js), p50 of 50", statistics.median(times), "ms"
        )
        result.add("browser (Chromium, receipt.js), max of 50", max(times), "ms")
        result.check("browser ≤ 100 ms", max(first, b50) <= 100)
    return result


def main() -> None:
    cli = parser(__doc__ or "", events=200_000)
    cli.add_argument("--mldsa", action="store_true", help="the log and a witness sign ML-DSA-44")
    args = cli.parse_args()
    report(run(args.events, args.mldsa), args.json)


if __name__ == "__main__":
    main()
