"""Bulk paths on both backends: `iter_pages` equals `read_all`; import streams in chunks."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.bulk import iter_pages
from events.disclosure import leaf_hash_v2
from events.model import ZERO_HASH, NewEvent, RecordedEvent, StreamAppend
from events.store import EventStore
from events.transfer import ImportRefused, export_log, import_log
from events.verify_chain import leaf_hashes, verify_store_chain

T0 = datetime(2026, 2, 5, 15, 4, 5, 123456, tzinfo=UTC)


async def fill(store: EventStore, count: int) -> list[RecordedEvent]:
    written: list[RecordedEvent] = []
    for stream in ("a", "b", "c"):
        written += await store.append(
            StreamAppend(
                stream,
                "any",
                [
                    NewEvent(
                        stream,
                        "Noted",
                        {"n": i, "text": "é\u2028", "nested": {"z": [1, 2.5, None], "a": True}},
                        T0,
                        metadata={"actor": {"id": "t1"}},
                    )
                    for i in range(count)
                ],
            )
        )
    return written


async def collect(store: EventStore, after: int, batch: int) -> list[list[RecordedEvent]]:
    return [page async for page in iter_pages(store, after=after, batch=batch)]


async def test_empty_log_yields_no_pages(store: EventStore) -> None:
    assert await collect(store, 0, 10) == []


@pytest.mark.parametrize("batch", [1, 7, 10, 30, 1000])
async def test_pages_equal_read_all_in_position_order(store: EventStore, batch: int) -> None:
    written = await fill(store, 10)
    expected = await store.read_all(0, 1000)
    assert expected == written
    pages = await collect(store, 0, batch)
    assert all(1 <= len(page) <= batch for page in pages)
    assert [event for page in pages for event in page] == expected
    assert [event.position for page in pages for event in page] == list(range(1, 31))


async def test_after_skips_earlier_positions(store: EventStore) -> None:
    await fill(store, 5)
    pages = await collect(store, 9, 4)
    assert [event.position for page in pages for event in page] == list(range(10, 16))
    assert await collect(store, 15, 4) == []


async def test_stopping_early_releases_the_reader(store: EventStore) -> None:
    await fill(store, 10)
    pages = iter_pages(store, batch=4)
    async for page in pages:
        assert [event.position for event in page] == [1, 2, 3, 4]
        break
    await pages.aclose()
    assert [e.position for p in await collect(store, 0, 100) for e in p] == list(range(1, 31))


async def test_batch_must_be_positive(store: EventStore) -> None:
    with pytest.raises(ValueError):
        await collect(store, 0, 0)


async def test_import_streams_in_chunks_and_writes_nothing_on_a_bad_line(
    store: EventStore, second_database_url: str, tmp_path: Path
) -> None:
    await fill(store, 10)
    odd = "odd\tstream\\with\nescapes\r"  # COPY's text format must escape these
    await store.append(
        StreamAppend(odd, "no_stream", [NewEvent(odd, "Odd\t", {"k\\": "a\\b\tc\nd"}, T0)])
    )
    path = tmp_path / "log.jsonl"
    with path.open("wb") as out:
        assert await export_log(store, out) == 31
    lines = path.read_bytes().splitlines(keepends=True)
    body = orjson.loads(lines[22])
    body["data"]["n"] = 99
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join([*lines[:22], orjson.dumps(body) + b"\n", *lines[23:]]))
    async with await EventStore.open(second_database_url) as target:
        with pytest.raises(ImportRefused, match=r"at position 23: .*hash does not match"):
            await import_log(target, bad, batch=4)  # several chunks written, then refused
        assert await target.head() == (0, ZERO_HASH)
        seen: list[int] = []
        assert await import_log(target, path, progress=seen.append, batch=4) == 31
        assert seen[-1] == 31
        assert await target.read_all(0, 100) == await store.read_all(0, 100)
        assert (await target.read_stream(odd))[0].data == {"k\\": "a\\b\tc\nd"}
        assert (await verify_store_chain(target)).checked == 31
        with pytest.raises(ImportRefused, match="already holds 31 events"):
            await import_log(target, path)


TRICKY_DATA: list[dict[str, Any]] = [
    {"f": 5.0, "g": -0.0, "h": 1e16, "i": 1.5e-7},  # floats: JCS writes them its own way
    {"big": 2**53 + 1},  # beyond RFC 8785's integers: no canonical form
    {"huge": 10**20},  # refused as well
    {"\ue000": 1, "\U0001f600": 2},  # keys ordered by UTF-16 code units
    {"esc": "caf\u00e9 \u2028", "s": "a:1.5,[2e3]"},  # non-ASCII; number-like strings
    {"list": [1, 2.5, {"z": 1, "a": [3.0]}], "n": 1234567890123456},  # long digit runs
]


async def test_chain_walk_and_leaves_agree_with_canonical_on_tricky_values(
    store: EventStore,
) -> None:
    for i, data in enumerate(TRICKY_DATA):
        # No canonical form (2**53 + 1): the store refuses it, as it should.
        with contextlib.suppress(TypeError, ValueError):
            await store.append(StreamAppend(f"t{i}", "any", [NewEvent(f"t{i}", "T", data, T0)]))
    events = await store.read_all(0, 100)
    assert len(events) == 4  # the two integers beyond 2**53 are refused
    report = await verify_store_chain(store, batch=2)
    assert report.ok, report.reason
    assert report.checked == len(events)
    expected = [leaf_hash_v2(event.hashed_fields()) for event in events]
    assert await leaf_hashes(store, 0, 100) == expected
    assert await leaf_hashes(store, 2, 2) == expected[2:4]
