"""`bounded_request`: every answer from the network read up to a bound, within a deadline,
redirects only to the same origin (R15's building block), against a hostile server."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from events.bounded_http import PeerAnswerError, bounded_request
from tests.hostile import GIGABYTE, Reply, endless, hostile_server, huge


async def test_an_answer_within_the_bound_is_read_whole() -> None:
    with hostile_server(lambda method, target, body: Reply(body=b"x" * 1024)) as server:
        async with httpx.AsyncClient() as http:
            answer = await bounded_request(http, "GET", server.url + "/a", limit=1024, within=5)
    assert answer.status_code == 200 and answer.content == b"x" * 1024


async def test_a_gigabyte_is_cut_at_the_bound() -> None:
    with hostile_server(lambda method, target, body: Reply(stream=huge())) as server:
        async with httpx.AsyncClient() as http:
            with pytest.raises(PeerAnswerError, match="over 64 KiB"):
                await bounded_request(http, "POST", server.url, limit=65536, within=10)
        await asyncio.sleep(0.2)
        assert server.sent < GIGABYTE // 100  # the client hung up long before the end


async def test_a_declared_length_over_the_bound_is_refused_before_the_body() -> None:
    reply = Reply(body=b"9" * 2_000_000)
    with hostile_server(lambda method, target, body: reply) as server:
        async with httpx.AsyncClient() as http:
            with pytest.raises(PeerAnswerError, match=r"over 1 MiB \(Content-Length\)"):
                await bounded_request(http, "GET", server.url, limit=1 << 20, within=5)


async def test_an_endless_trickle_ends_at_the_deadline() -> None:
    with hostile_server(lambda method, target, body: Reply(stream=endless(every=0.01))) as server:
        async with httpx.AsyncClient(timeout=30) as http:
            started = time.monotonic()
            with pytest.raises(PeerAnswerError, match=r"no complete answer within 0\.5 s"):
                await bounded_request(http, "GET", server.url, limit=1 << 20, within=0.5)
    # each byte arrives well within httpx's read timeout: only the total deadline ends it
    assert time.monotonic() - started < 2


async def test_a_compressed_answer_is_refused() -> None:
    reply = Reply(body=b"\x1f\x8b", headers={"Content-Encoding": "gzip"})
    with hostile_server(lambda method, target, body: reply) as server:
        async with httpx.AsyncClient() as http:
            with pytest.raises(PeerAnswerError, match="gzip-encoded"):
                await bounded_request(http, "GET", server.url, limit=1024, within=5)
    assert server.requests and server.url


async def test_redirects_only_to_the_same_origin_and_only_so_many() -> None:
    with hostile_server(lambda method, target, body: Reply(body=b"elsewhere")) as other:

        def route(method: str, target: str, body: bytes) -> Reply:
            if target == "/moved":
                return Reply(status=302, headers={"Location": "/here"})
            if target == "/away":
                return Reply(status=307, headers={"Location": other.url + "/x"})
            if target == "/loop":
                return Reply(status=301, headers={"Location": "/loop"})
            return Reply(body=b"here")

        with hostile_server(route) as server:
            async with httpx.AsyncClient() as http:
                answer = await bounded_request(
                    http, "GET", server.url + "/moved", limit=64, within=5, redirects=3
                )
                assert answer.content == b"here" and answer.url == server.url + "/here"
                with pytest.raises(PeerAnswerError, match="redirect to another host"):
                    await bounded_request(
                        http, "GET", server.url + "/away", limit=64, within=5, redirects=3
                    )
                with pytest.raises(PeerAnswerError, match="more than 3 redirects"):
                    await bounded_request(
                        http, "GET", server.url + "/loop", limit=64, within=5, redirects=3
                    )
                with pytest.raises(PeerAnswerError, match="is not followed"):
                    await bounded_request(http, "GET", server.url + "/moved", limit=64, within=5)
                # a POST's redirect is an answer like any other, never followed
                posted = await bounded_request(
                    http, "POST", server.url + "/away", limit=64, within=5, redirects=3
                )
                assert posted.status_code == 307
        assert other.requests == []


async def test_unreachable_is_a_peer_error() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(PeerAnswerError, match="ConnectError"):
            await bounded_request(http, "GET", "http://127.0.0.1:9/", limit=64, within=5)
