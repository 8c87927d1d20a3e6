"""What every `python -m bench.bN` shares: its arguments, and how it reports."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from pathlib import Path

from bench.db import Result


def parser(doc: str, events: int, seconds: float = 8.0) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    p.add_argument("--events", type=int, default=int(os.environ.get("DOCKET_BENCH_EVENTS", events)))
    p.add_argument(
        "--seconds", type=float, default=float(os.environ.get("DOCKET_BENCH_SECONDS", seconds))
    )
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    return p


def report(result: Result, json_path: Path | None) -> None:
    print(result.show(), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps(result.as_dict(), indent=1))


def machine() -> dict[str, str]:
    """nproc, memory, CPU, Python and PostgreSQL versions."""
    memory = "?"
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    return {
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "postgresql": pg or "?",
    }
