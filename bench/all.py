"""Run every benchmark (B1–B8, B11–B13), each in its own process, and write the results
table into `docs/BENCHMARKS.md` (between its `bench:results` markers) and `bench/results.json`.

`python -m bench.all [--events N] [--seconds S] [--keep] [--only b1,b3]`: N is the size
of the large logs (B3–B6, B8, B13; default 200,000, at most 1,000,000); B1, B2 and B7 use a log
of 10,000. The generated logs are dropped at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import db, references
from bench.cli import machine

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
SMALL = 10_000


def _run(name: str, events: int, seconds: float, out: Path) -> dict[str, Any] | None:
    args = [sys.executable, "-m", f"bench.{name}", "--events", str(events),
            "--seconds", str(seconds), "--json", str(out)]  # fmt: skip
    print(f"$ python -m bench.{name} --events {events} --seconds {seconds}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    shown = [line for line in done.stdout.splitlines() if not line.startswith("20")]
    print("\n".join(shown), flush=True)
    print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    if done.returncode != 0 or not out.exists():
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    found: dict[str, Any] = json.loads(out.read_text())
    found["command"] = f"python -m bench.{name} --events {events} --seconds {seconds}"
    return found


def _limits(seconds: float) -> dict[str, Any]:
    one = references.pgbench_commits(1, int(seconds))
    eight = references.pgbench_commits(8, int(seconds))
    print(f"== pgbench single-row commits: 1 client {one:,.0f}/s, 8 clients {eight:,.0f}/s")
    return {"pgbench_1": one, "pgbench_8": eight}


def _table(results: list[dict[str, Any]], limits: dict[str, Any], info: dict[str, str],
           events: int, total: float) -> str:  # fmt: skip
    lines = [
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python -m bench.all --events {events}`"
        f" ({total / 60:.1f} min). Machine: {info['nproc']} cores ({info['cpu']}),"
        f" {info['memory']}, PostgreSQL {info['postgresql']}, Python {info['python']}.",
        "",
        f"pgbench single-row commits (same run): {limits['pgbench_1']:,.0f}/s from 1 client,"
        f" {limits['pgbench_8']:,.0f}/s from 8.",
        "",
    ]
    for result in results:
        lines.append(f"### {result['bench']}: {result['title']} — {result['size']}")
        lines.append("")
        lines.append(f"`{result['command']}`")
        lines.append("")
        lines.append("| figure | value |")
        lines.append("|---|---|")
        for name, value in result["figures"].items():
            unit = result["units"][name]
            shown = unit if unit.startswith("{") else f"{value:,.2f} {unit}".strip()
            lines.append(f"| {name.strip()} | {shown} |")
        for text, ok in result["checks"]:
            lines.append(f"| target: {text} | **{'met' if ok else 'MISSED'}** |")
        for note in result["notes"]:
            lines.append(f"| note | {note} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=db.default_events(200_000))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--only", default="b1,b2,b3,b4,b5,b6,b7,b8,b11,b12,b13")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    info = machine()
    print(f"machine: {info}", flush=True)
    limits = _limits(args.seconds)
    sizes = {"b1": SMALL, "b2": SMALL, "b7": SMALL, "b12": SMALL}
    results = []
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp:
        for name in args.only.split(","):
            found = _run(name, sizes.get(name, args.events), args.seconds, Path(tmp) / name)
            if found is not None:
                results.append(found)
    if not args.keep:
        asyncio.run(db.drop_all())
    total = time.perf_counter() - started
    print(f"all done in {total / 60:.1f} min")
    payload = {"machine": info, "limits": limits, "results": results, "events": args.events}
    (ROOT / "bench" / "results.json").write_text(json.dumps(payload, indent=1))
    if not args.no_doc and DOC.exists():
        text = DOC.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            table = _table(results, limits, info, args.events, total)
            DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    main()
