"""Rows of a log written before canonical form v2 (no `salt` column: migrations ≤ 0005)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from events.engines import create_engine, is_sqlite
from events.model import ZERO_HASH


async def insert_v1_submissions(url: str, *request_ids: str) -> None:
    """`RequestSubmitted` rows as an older Docket wrote them (their hashes are not checked)."""
    engine = create_engine(url)
    moment: object = datetime(2026, 2, 5, 15, 4, 5, tzinfo=UTC)
    if is_sqlite(url):
        moment = "2026-02-05T15:04:05.000000Z"
    try:
        async with engine.begin() as conn:
            for position, request_id in enumerate(request_ids, start=1):
                await conn.execute(
                    text(
                        "INSERT INTO events (position, event_id, stream_id, stream_version,"
                        " event_type, schema_version, data, metadata, occurred_at,"
                        " recorded_at, prev_hash, hash) VALUES (:p, :e, :s, 1,"
                        " 'RequestSubmitted', 1, :d, '{}', :t, :t, :h, :h)"
                    ),
                    {
                        "p": position,
                        "e": str(uuid.uuid4()),
                        "s": f"request-{request_id}",
                        "d": json.dumps({"request_id": request_id}),
                        "t": moment,
                        "h": ZERO_HASH,
                    },
                )
    finally:
        await engine.dispose()
