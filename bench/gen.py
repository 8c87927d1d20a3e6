"""A generator of realistic, valid, hash-chained logs from 10,000 to 1,000,000 events.

The log is what a busy committee would write: the roster (`MemberSeated` for the
2025–2026 Council), then requests submitted, circulated, held by several members,
questioned and answered, reviewed, released, approved (with shipments), refused or
withdrawn, many in flight at once so that their events interleave. It ends with:

- `OPEN_COUNT` requests circulated and open with no hold (`HX-OPEN-00001` …): what B1
  places and releases holds on;
- one request of `LONG_EVENTS` events (`HX-LONG-00001`), spread over the whole log: B7's
  `as_of` subject.

Hashes are computed here with the service's own canonical form v2 (`events.hashing`: a
random salt per event, as appends make them), and
the rows go to the `events` table by COPY (PostgreSQL) or executemany (SQLite), never
through `EventStore.append` one by one. `python -m bench.gen --events N --database D`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench import db
from events.disclosure import sealed_digest, split
from events.hashing import event_hashes
from events.model import ZERO_HASH, utc_text
from events.types import request_stream
from service.data.roster_2025_2026 import ROSTER_2025_2026

#: Generated logs kept as templates: `docket_bench_v3_log_<n>` (canonical form v2, sealed
#: values in `sealed_values`: migration 0012; a template of an older layout,
#: `docket_bench_v2_log_<n>` or `docket_bench_log_<n>`, is never reused).
LOG_TEMPLATE = "v3_log_"
OPEN_COUNT = 1000
LONG_EVENTS = 500
OPEN_PREFIX = "HX-OPEN-"
LONG_ID = "HX-LONG-00001"
#: members seated all through the generated period (2026), who place holds
MEMBERS_2026 = (
    "CHN", "FRA", "GBR", "RUS", "USA",
    "DNK", "GRC", "PAK", "PAN", "SOM",
    "BHR", "COD", "COL", "LBR", "LVA",
)  # fmt: skip
#: The columns of `events` a generated row fills, in order (`events.store.rows.ImportRow`'s
#: first 12), and those of `sealed_values` (its position, then the last 4).
COLUMNS = (
    "position", "event_id", "stream_id", "stream_version", "event_type", "schema_version",
    "data", "occurred_at", "recorded_at", "prev_hash", "hash", "sealed",
)  # fmt: skip
SEALED_COLUMNS = ("position", "data", "metadata", "salt", "erased_by")
_ORGS = (
    ("World Health Organization", "un_agency", "direct", None),
    ("United Nations Children's Fund", "un_agency", "direct", None),
    ("World Food Programme", "un_agency", "direct", None),
    ("International Federation of Red Cross and Red Crescent", "red_cross", "direct", None),
    ("Eugene Bell Foundation", "ngo", "member_state", "USA"),
    ("Welthungerhilfe", "ngo", "member_state", "DEU"),
    ("Concern Worldwide", "ngo", "resident_coordinator", None),
    ("Triangle Génération Humanitaire", "ngo", "member_state", "FRA"),
    ("Agape International Missions", "ngo", "committee_secretary", None),
)  # fmt: skip
_PROVINCES = ("North Hamgyong", "Ryanggang", "Kangwon", "South Pyongan")
_GOODS = (
    ("GeneXpert MTB/RIF cartridges", "3822.19", "cartridge", 12000, 118000),
    ("Bedaquiline 100 mg tablets", "3004.90", "pack", 3000, 240000),
    ("Submersible solar pump sets, 1.5 kW", "8413.70", "set", 40, 96000),
    ("Ultrasound scanner, portable", "9018.12", "unit", 6, 54000),
    ("Water purification tablets", "3808.94", "box", 20000, 31000),
    ("Hand-operated well drilling kit", "8430.41", "kit", 12, 42000),
)


@dataclass(frozen=True, slots=True)
class Generated:
    """What a generated log holds, for the benchmarks that use it."""

    events: int
    requests: int
    open_requests: tuple[str, ...]
    long_request: str
    seconds: float


def open_request_ids(count: int = OPEN_COUNT) -> list[str]:
    return [f"{OPEN_PREFIX}{i:05d}" for i in range(1, count + 1)]


class _Script:
    """One request's events still to come: (event_type, data) pairs."""

    __slots__ = ("request_id", "steps", "version")

    def __init__(self, request_id: str, steps: list[tuple[str, dict[str, Any]]]) -> None:
        self.request_id = request_id
        self.steps = steps
        self.version = 0


def _submission(rng: random.Random, request_id: str) -> dict[str, Any]:
    name, kind, channel, sponsor = rng.choice(_ORGS)
    items = []
    for description, hs_code, unit, quantity, value in rng.sample(_GOODS, rng.randint(1, 3)):
        items.append(
            {
                "description": description,
                "hs_code": hs_code,
                "quantity": quantity,
                "unit": unit,
                "value_usd": value * rng.randint(1, 4),
            }
        )
    data: dict[str, Any] = {
        "request_id": request_id,
        "applicant": {"name": name, "kind": kind},
        "channel": channel,
        "title": f"{items[0]['description']} for {rng.choice(_PROVINCES)} province",
        "purpose": "Diagnosis and treatment of patients in provincial hospitals and clinics.",
        "beneficiaries": f"About {rng.randint(2, 90) * 1000} patients and their families.",
        "items": items,
        "urgent": rng.random() < 0.1,
        "requested_validity_months": 6,
        "disclosure": "public" if rng.random() < 0.3 else "confidential",
    }
    if sponsor is not None:
        data["sponsor"] = sponsor
    return data


def _request_script(rng: random.Random, request_id: str, now: datetime) -> list[tuple[str, Any]]:
    """A whole lifecycle; times are filled in when each step is emitted."""
    p = "initial"
    steps: list[tuple[str, Any]] = [("RequestSubmitted", _submission(rng, request_id))]
    steps.append(("RequestCirculated", {"procedure": p, "deadline": None, "expedited": False}))
    holders = rng.sample(MEMBERS_2026, rng.choice((0, 0, 1, 1, 2, 3)))
    for member in holders:
        steps.append(
            ("HoldPlaced", {"procedure": p, "member": member, "reason": "Further review of items."})
        )
    if rng.random() < 0.3:
        asker = rng.choice((*MEMBERS_2026[:5], "committee"))
        steps.append(
            (
                "InformationRequested",
                {"procedure": p, "requested_by": asker, "questions": "Who receives the goods?"},
            )
        )
        steps.append(
            (
                "InformationProvided",
                {"procedure": p, "response": "The provincial health bureau, under UN monitoring."},
            )
        )
    if rng.random() < 0.4:
        steps.append(
            ("ReviewStepRecorded", {"procedure": p, "step": "legal review", "outcome": "cleared"})
        )
    fate = rng.random()
    if fate < 0.12:  # still in flight: holds stay
        return steps
    for member in holders:
        steps.append(("HoldReleased", {"procedure": p, "member": member}))
    if fate < 0.80:
        valid_from = now.date() - timedelta(days=rng.randint(0, 200))
        steps.append(
            (
                "ExemptionApproved",
                {
                    "procedure": p,
                    "valid_from": valid_from.isoformat(),
                    "valid_until": (valid_from + timedelta(days=182)).isoformat(),
                    "letter_ref": f"S/AC.49/2026/OC.{rng.randint(1, 9999)}",
                    "shipments_allowed": 3,
                },
            )
        )
        for number in range(1, rng.randint(0, 3) + 1):
            shipped = valid_from + timedelta(days=10 * number)
            steps.append(
                ("ShipmentRecorded", {"shipment_no": number, "shipped_on": shipped.isoformat()})
            )
    elif fate < 0.92:
        steps.append(("ExemptionRefused", {"procedure": p, "reason": "Dual-use concerns."}))
    else:
        steps.append(("RequestWithdrawn", {"procedure": p, "reason": "No longer needed."}))
    return steps


def _long_script(rng: random.Random, events: int, now: datetime) -> list[tuple[str, Any]]:
    steps = _request_script(rng, LONG_ID, now)[:2]
    p = "initial"
    while len(steps) < events - 1:
        member = rng.choice(MEMBERS_2026)
        steps.append(("HoldPlaced", {"procedure": p, "member": member}))
        steps.append(
            ("ReviewStepRecorded", {"procedure": p, "step": "consultation", "outcome": "noted"})
        )
        steps.append(("HoldReleased", {"procedure": p, "member": member}))
    final = ("ReviewStepRecorded", {"procedure": p, "step": "final", "outcome": "ready"})
    return [*steps[: events - 1], final]


def _timeline(
    events: int, *, seed: int, now: datetime, open_count: int, long_events: int
) -> Iterator[tuple[str, str, dict[str, Any], datetime]]:
    """(stream_id, event_type, data, occurred_at) in log order, `events` of them."""
    rng = random.Random(seed)
    start = now - timedelta(days=320)
    end = now - timedelta(hours=1)
    tail = open_count * 2
    roster = len(ROSTER_2025_2026)
    body = events - roster - tail
    if body < long_events + 10:
        raise ValueError(f"{events} events are too few (need > {roster + tail + long_events + 10})")
    step = (end - start) / events
    moment = start
    for member in ROSTER_2025_2026:
        yield "committee", "MemberSeated", dict(member), moment
    long_script = _Script(LONG_ID, _long_script(rng, long_events, now))
    active: list[_Script] = []
    serial = 0
    emitted = 0
    long_every = body // long_events
    while emitted < body:
        moment += step
        if long_script.steps and emitted % long_every == long_every - 1:
            script = long_script
        else:
            while len(active) < 300:
                serial += 1
                rid = f"HX-2026-{serial:06d}"
                active.append(_Script(rid, _request_script(rng, rid, now)))
            script = rng.choice(active)
        event_type, data = script.steps.pop(0)
        if event_type == "RequestCirculated":
            data = {**data, "deadline": utc_text(moment + timedelta(days=7))}
        if not script.steps and script is not long_script:
            active.remove(script)
        emitted += 1
        yield request_stream(script.request_id), event_type, data, moment
    deadline = utc_text(now + timedelta(days=30))
    for rid in open_request_ids(open_count):
        moment += step
        yield request_stream(rid), "RequestSubmitted", _submission(rng, rid), moment
        moment += step
        circulated = {"procedure": "initial", "deadline": deadline, "expedited": False}
        yield request_stream(rid), "RequestCirculated", circulated, moment


def rows(
    events: int,
    *,
    seed: int = 2026,
    now: datetime | None = None,
    open_count: int = OPEN_COUNT,
    long_events: int = LONG_EVENTS,
    chunk: int = 20_000,
    text_times: bool = False,
) -> Iterator[list[tuple[Any, ...]]]:
    """The log's rows (`events.store.rows.ImportRow`: `COLUMNS`, then the sealed data,
    metadata, salt and erased_by of `SEALED_COLUMNS`), `chunk` at a time.

    `text_times` gives times as canonical text (SQLite's storage); else aware datetimes."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed + 1)
    versions: dict[str, int] = {}
    chain = bytes.fromhex(ZERO_HASH)
    actor = {"id": "tok_bench001", "name": "bench-secretariat", "role": "secretariat"}
    batch: list[tuple[Any, ...]] = []
    position = 0
    timeline = _timeline(events, seed=seed, now=now, open_count=open_count, long_events=long_events)
    for stream_id, event_type, data, occurred in timeline:
        position += 1  # noqa: SIM113 (chunks are yielded mid-loop)
        version = versions.get(stream_id, 0) + 1
        versions[stream_id] = version
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        correlation = f"{rng.getrandbits(64):016x}"
        metadata = {
            "actor": actor,
            "correlation_id": correlation,
            "causation_id": correlation,
            "idempotency_key": None,
        }
        text = utc_text(occurred)
        hashed = {
            "position": position,
            "event_id": event_id,
            "stream_id": stream_id,
            "stream_version": version,
            "event_type": event_type,
            "schema_version": 1,
            "data": data,
            "metadata": metadata,
            "occurred_at": text,
            "recorded_at": text,
            "salt": f"{rng.getrandbits(256):064x}",
        }
        prev = chain
        _, chain = event_hashes(hashed, prev)
        clear, sealed = split(event_type, 1, data)
        when: Any = text if text_times else occurred
        batch.append(
            (
                position,
                event_id,
                stream_id,
                version,
                event_type,
                1,
                orjson.dumps(clear).decode(),
                when,
                when,
                prev.hex(),
                chain.hex(),
                sealed_digest(str(hashed["salt"]), sealed, metadata),
                orjson.dumps(sealed).decode(),
                orjson.dumps(metadata).decode(),
                hashed["salt"],
                None,
            )
        )
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


async def write_postgres(
    database: str, events: int, *, seed: int = 2026, open_count: int = OPEN_COUNT
) -> Generated:
    """A fresh `database` holding a generated log of `events` events."""
    started = time.perf_counter()
    await db.fresh(database)
    conn = await asyncpg.connect(db.dsn(database))
    try:
        for chunk in rows(events, seed=seed, open_count=open_count):
            await copy_rows(conn, chunk)
        await conn.execute("ANALYZE events")
        await conn.execute("ANALYZE sealed_values")
    finally:
        await conn.close()
    return _generated(events, open_count, time.perf_counter() - started)


async def copy_rows(conn: asyncpg.Connection, chunk: list[tuple[Any, ...]]) -> None:
    """COPY generated rows into `events` and `sealed_values`."""
    await conn.copy_records_to_table("events", records=[row[:12] for row in chunk], columns=COLUMNS)
    await conn.copy_records_to_table(
        "sealed_values", records=[(row[0], *row[12:]) for row in chunk], columns=SEALED_COLUMNS
    )


def write_sqlite(
    path: Path,
    events: int,
    *,
    seed: int = 2026,
    open_count: int = OPEN_COUNT,
    long_events: int = LONG_EVENTS,
) -> Generated:
    """A fresh SQLite database at `path` holding a generated log of `events` events."""
    from service.platform.db import upgrade_to_head

    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    marks = ", ".join("?" * len(COLUMNS))
    sealed_marks = ", ".join("?" * len(SEALED_COLUMNS))
    with sqlite3.connect(path) as conn:
        chunks = rows(
            events, seed=seed, open_count=open_count, long_events=long_events, text_times=True
        )
        for chunk in chunks:
            conn.executemany(
                f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({marks})",
                [row[:12] for row in chunk],
            )
            conn.executemany(
                f"INSERT INTO sealed_values ({', '.join(SEALED_COLUMNS)}) VALUES ({sealed_marks})",
                [(row[0], *row[12:]) for row in chunk],
            )
        conn.commit()
    return _generated(events, open_count, time.perf_counter() - started)


def _generated(events: int, open_count: int, seconds: float) -> Generated:
    return Generated(
        events=events,
        requests=-1,
        open_requests=tuple(open_request_ids(open_count)),
        long_request=LONG_ID,
        seconds=seconds,
    )


async def log_template(events: int, open_count: int = OPEN_COUNT) -> str:
    """The template database of a generated log of `events` events (made once per run)."""
    name = f"{db.PREFIX}{LOG_TEMPLATE}{events}"
    if await db.exists(name):
        conn = await asyncpg.connect(db.dsn(name))
        try:
            head = await conn.fetchval("SELECT max(position) FROM events")
        finally:
            await conn.close()
        if head == events:
            await db.up_to_date(name)
            return name
    made = await write_postgres(name, events, open_count=open_count)
    print(f"   (generated {events:,} events into {name} in {made.seconds:.1f} s)", flush=True)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=db.default_events(100_000))
    parser.add_argument("--database", default=None, help="PostgreSQL database to (re)create")
    parser.add_argument("--sqlite", type=Path, default=None, help="SQLite file to (re)create")
    args = parser.parse_args()
    if args.sqlite is not None:
        made = write_sqlite(args.sqlite, args.events)
        target = str(args.sqlite)
    else:
        name = args.database or f"{db.PREFIX}{LOG_TEMPLATE}{args.events}"
        made = asyncio.run(write_postgres(name, args.events))
        target = name
    rate = made.events / made.seconds
    print(f"{made.events:,} events into {target} in {made.seconds:.1f} s ({rate:,.0f}/s)")


if __name__ == "__main__":
    main()
