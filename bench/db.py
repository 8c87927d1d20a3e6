"""Benchmark databases on PostgreSQL: a migrated template, generated logs, copies of them.

Every database the benchmarks make is called `docket_bench_*` and is dropped by
`drop_all()` (what `bench.all` does at the end, unless `--keep`). Generated logs are kept
between benchmarks of one run as templates (`docket_bench_v2_log_<n>`), so that each
benchmark that writes starts from a fresh copy in a second instead of regenerating.
Templates carry the canonical form in their names (`_v2`): one of an older form is never
reused. `DOCKET_BENCH_PREFIX` replaces `docket_bench_` (runs side by side on one server).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

T = TypeVar("T")

ADMIN_URL = os.environ.get(
    "DOCKET_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
#: Every benchmark database name starts with this (`DOCKET_BENCH_PREFIX`: runs that share a
#: server keep apart, and `drop_all` drops only its own).
PREFIX = os.environ.get("DOCKET_BENCH_PREFIX", "docket_bench_")
TEMPLATE = PREFIX + "template_v2"


def dsn(database: str) -> str:
    """The asyncpg DSN of `database` on the benchmark server."""
    return (
        make_url(ADMIN_URL).set(drivername="postgresql", database=database).render_as_string(False)
    )


def url(database: str) -> str:
    """The SQLAlchemy (asyncpg) URL of `database` on the benchmark server."""
    return make_url(ADMIN_URL).set(database=database).render_as_string(False)


def admin_dsn() -> str:
    return make_url(ADMIN_URL).set(drivername="postgresql").render_as_string(False)


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def exists(database: str) -> bool:
    conn = await asyncpg.connect(admin_dsn())
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database))
    finally:
        await conn.close()


async def drop(database: str) -> None:
    await admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def copy_of(template: str, database: str) -> str:
    """A fresh `database` copied from `template`; its SQLAlchemy URL."""
    await drop(database)
    await admin(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    return url(database)


def _migrate(target: str) -> None:
    from service.platform.db import upgrade_to_head

    upgrade_to_head(target)


async def migrated_template() -> str:
    """The migrated, empty template database (made once, brought to the migrations' head
    when reused)."""
    if not await exists(TEMPLATE):
        await admin(f'CREATE DATABASE "{TEMPLATE}"')
        try:
            await asyncio.to_thread(_migrate, url(TEMPLATE))
        except BaseException:
            await drop(TEMPLATE)
            raise
    else:
        await up_to_date(TEMPLATE)
    return TEMPLATE


async def up_to_date(database: str) -> None:
    """Apply the migrations `database` (a template kept from an earlier run) has not had:
    a benchmark must measure this tree's schema, not the one the template was made with."""
    await asyncio.to_thread(_migrate, url(database))


async def fresh(database: str) -> str:
    """A fresh, migrated, empty `database`; its SQLAlchemy URL."""
    return await copy_of(await migrated_template(), database)


async def drop_all() -> list[str]:
    """Drop every `docket_bench_*` database; their names."""
    conn = await asyncpg.connect(admin_dsn())
    try:
        names = [
            r[0]
            for r in await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", PREFIX + "%"
            )
        ]
    finally:
        await conn.close()
    for name in names:
        await drop(name)
    return names


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def postgres_cpu_seconds() -> float:
    """User + system CPU of the PostgreSQL server on this machine (Linux /proc): its
    processes' own, and what its ended backends left to the postmaster (`cutime`,
    `cstime`); the server's other work included."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if not text.split(" (", 1)[1].startswith("postgres)"):
                continue
            fields = text.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            if (
                not Path(f"/proc/{fields[1]}/stat")
                .read_text()
                .split(" (", 1)[1]
                .startswith("postgres)")
            ):  # the postmaster (its parent is not a postgres): its reaped children
                total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


def default_events(fallback: int) -> int:
    return int(os.environ.get("DOCKET_BENCH_EVENTS", fallback))


@dataclass
class Result:
    """One benchmark's figures: what was measured, its references, and the verdicts."""

    bench: str
    title: str
    size: str
    figures: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str) -> float:
        self.figures[name] = value
        self.units[name] = unit
        return value

    def check(self, text: str, ok: bool) -> None:
        self.checks.append((text, ok))

    def show(self) -> str:
        lines = [f"== {self.bench}: {self.title} [{self.size}]"]
        for name, value in self.figures.items():
            lines.append(f"   {name:<58} {value:>14,.2f} {self.units[name]}")
        for text, ok in self.checks:
            lines.append(f"   {'PASS' if ok else 'MISS'}  {text}")
        for note in self.notes:
            lines.append(f"   note: {note}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "title": self.title,
            "size": self.size,
            "figures": self.figures,
            "units": self.units,
            "checks": self.checks,
            "notes": self.notes,
        }


async def timed(make: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    """`await make()` and the seconds it took."""
    start = time.perf_counter()
    value = await make()
    return value, time.perf_counter() - start
