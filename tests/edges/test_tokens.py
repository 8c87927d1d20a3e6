"""Tokens as a hostile client or a careful operator meets them: revocation effective within
a second everywhere, open streams included; bearers of the wrong shape refused before any
lookup; the cache keyed by hash and bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import service.api.auth as auth
from service.api.token_cache import CACHE, TokenCache, token_digest, well_formed
from service.platform.db import create_engine
from service.platform.tokens import Caller, create_token, list_tokens, revoke_token
from tests.api.conftest import Api
from tests.conftest import run_async
from tests.edges.conftest import Served

SEAT = {"member": "USA", "term_start": "1945-10-24", "occurred_at": "2025-01-01T00:00:00Z"}


async def _on(database_url: str, act: str, value: str = "") -> str:
    engine = create_engine(database_url)
    try:
        if act == "create":
            return await create_token(engine, "auditor", "stream-reader", None)
        for row in await list_tokens(engine):
            if row.name == value:
                await revoke_token(engine, row.id)
        return ""
    finally:
        await engine.dispose()


def test_revoking_a_token_ends_its_open_stream(served: Served) -> None:
    token = run_async(lambda: _on(served.database_url, "create"))
    with served.client() as secretariat:
        assert secretariat.post("/v1/committee/members", json=SEAT).status_code == 201
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(30, read=15)
    lines: list[str] = []
    with (
        httpx.Client(base_url=served.base, headers=headers, timeout=timeout) as reader,
        reader.stream("GET", "/v1/events/stream") as stream,
    ):
        assert stream.status_code == 200
        received = stream.iter_lines()
        for line in received:
            lines.append(line)
            if line == "id: 1":
                break
        run_async(lambda: _on(served.database_url, "revoke", "stream-reader"))
        time.sleep(1.0)  # the bound: revocation takes effect within a second
        with served.client() as secretariat:
            other = {**SEAT, "member": "FRA"}
            assert secretariat.post("/v1/committee/members", json=other).status_code == 201
        lines.extend(received)  # the stream ends (a read timeout here fails the test)
        assert reader.get("/v1/events").status_code == 401
    assert "event: revoked" in lines, lines
    assert "id: 2" not in lines, lines


def test_a_revoked_tokens_idle_stream_ends_at_its_next_keep_alive(
    served_with: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a cache that would keep the token for a minute: the keep-alive must ask the database
    monkeypatch.setattr(CACHE, "ttl", 60.0)
    with served_with(stream_keepalive_seconds=0.3) as served:
        token = run_async(lambda: _on(served.database_url, "create"))
        with served.client() as secretariat:
            assert secretariat.post("/v1/committee/members", json=SEAT).status_code == 201
        headers = {"Authorization": f"Bearer {token}"}
        lines: list[str] = []
        with (
            httpx.Client(base_url=served.base, headers=headers, timeout=30) as reader,
            reader.stream("GET", "/v1/events/stream") as stream,
        ):
            assert stream.status_code == 200
            received = stream.iter_lines()
            for line in received:
                lines.append(line)
                if line == ": keep-alive":  # idle, the token still live
                    break
            run_async(lambda: _on(served.database_url, "revoke", "stream-reader"))
            revoked = time.monotonic()
            lines.extend(received)  # no event follows: only a keep-alive can end it
            took = time.monotonic() - revoked
        assert "id: 1" in lines and "event: revoked" in lines, lines
        assert took < 5.0, took  # the next keep-alive (0.3 s), not the next event


async def test_revocation_is_seen_within_a_second(api: Api) -> None:
    engine = api.app.state.runtime.engine
    token = await create_token(engine, "auditor", "short-lived", None)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/v1/events", headers=headers)).status_code == 200
    (row,) = [r for r in await list_tokens(engine) if r.name == "short-lived"]
    await revoke_token(engine, row.id)
    await asyncio.sleep(1.0)
    assert (await api.client.get("/v1/events", headers=headers)).status_code == 401


@pytest.mark.parametrize(
    "bearer",
    ["x" * 500_000, "dkt_" + "a" * 42, "dkt_" + "a" * 44, "dkt_" + "a" * 42 + "=", "tok_abc"],
)
async def test_bearers_not_of_the_token_shape_are_refused_before_any_lookup(
    api: Api, bearer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []

    async def lookup(engine: Any, digest: str) -> Caller | None:
        looked_up.append(digest)
        return None

    monkeypatch.setattr(auth, "find_caller_by_hash", lookup)
    before = len(CACHE)
    response = await api.client.get("/v1/events", headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert looked_up == [] and len(CACHE) == before
    assert not well_formed(bearer)


async def test_the_cache_is_keyed_by_hash_and_bounded() -> None:
    cache = TokenCache(ttl=60, max_entries=100)
    secrets = [f"dkt_{i:043d}" for i in range(1000)]
    assert all(well_formed(s) for s in secrets)

    async def unknown(digest: str) -> Caller | None:
        return None

    for secret in secrets:
        assert await cache.caller(token_digest(secret), unknown) is None
    assert len(cache) == 100
    keys = cache.keys()
    assert all(len(k) == 64 and k not in secrets for k in keys)
    assert keys[-1] == token_digest(secrets[-1])  # least recently used out first
