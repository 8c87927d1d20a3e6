"""B12's SSE client counts what it is sent correctly (the benchmark's verdict rests on it)."""

from __future__ import annotations

import asyncio

from bench.b12 import Subscriber, _chunk


def test_consecutive_positions_count_and_repeats_and_gaps_are_caught() -> None:
    subscriber = Subscriber(port=0, token="t", after=10)
    for position in (11, 12, 12, 15, 16):
        subscriber._saw(position)
    assert (subscriber.last, subscriber.repeats, subscriber.gaps) == (16, 1, 1)


async def test_chunked_bodies_are_decoded() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"5\r\nid: 1\r\n3;ext=1\r\n\n\na\r\n0\r\n\r\n")
    reader.feed_eof()
    assert await _chunk(reader) == b"id: 1"
    assert await _chunk(reader) == b"\n\na"
    assert await _chunk(reader) == b""
