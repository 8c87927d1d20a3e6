"""On PostgreSQL a request's public document is compressed with LZ4 (migration 0020), in
the table a rebuild swaps in too (its copy keeps the column's compression)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from events.model import NewEvent, StreamAppend
from events.store import EventStore
from projections.runner import ProjectionRunner
from tests.projections.histories import submission

pytestmark = pytest.mark.postgres


async def test_documents_are_lz4_after_a_rebuild(postgres_url: str) -> None:
    store = await EventStore.open(postgres_url)
    runner = ProjectionRunner(store.engine, store)
    try:
        data = submission("HX-2026-0001", "Relief 1", disclosure="public")
        # a document well over the 2 kB from which PostgreSQL compresses a value
        data["items"][0]["description"] = "clean water for the villages of the valley; " * 200
        stream = "request-HX-2026-0001"
        at = datetime.now(UTC) - timedelta(days=1)
        event = NewEvent(stream, "RequestSubmitted", data, at)
        await store.append(StreamAppend(stream, "no_stream", [event]))
        await runner.rebuild()
        async with store.engine.connect() as conn:
            column = await conn.scalar(
                text(
                    "SELECT attcompression::text FROM pg_attribute"
                    " WHERE attrelid = 'request_state'::regclass AND attname = 'public_document'"
                )
            )
            method = await conn.scalar(
                text("SELECT pg_column_compression(public_document) FROM request_state")
            )
    finally:
        await runner.close()
        await store.close()
    assert (column, method) == ("l", "lz4")
