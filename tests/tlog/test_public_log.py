"""The public tlog endpoints over an in-memory source, read by the spec-only tiles client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from events.checkpoints import parse_checkpoint, split_note
from events.cosignature import Cosigner, add_signature_lines, verify_witnessed
from events.merkle import verify_inclusion
from events.witnessing import WitnessConfig
from service.publishing.public_log import (
    FULL_TILE_CACHE,
    PARTIAL_TILE_CACHE,
    WitnessPolicy,
    public_log_router,
)
from tests.tlog.tiles_client import TilesClient
from tests.witness.logs import FakeLog


class MemorySource:
    def __init__(self, log: FakeLog, note: str | None) -> None:
        self.log = log
        self.note = note

    async def published_checkpoint(self) -> str | None:
        return self.note

    async def node_hashes(self, level: int, first: int, end: int) -> Sequence[bytes]:
        nodes = self.log.nodes
        return [nodes[(level, i)] for i in range(first, end) if (level, i) in nodes]


@pytest.fixture
def witness() -> Cosigner:
    return Cosigner("w.example/1", Ed25519PrivateKey.generate())


@pytest.fixture
def log() -> FakeLog:
    return FakeLog().grow(1100)  # stored beyond the published 1000


@pytest.fixture
def source(log: FakeLog, witness: Cosigner) -> MemorySource:
    note = log.checkpoint(1000)
    return MemorySource(log, add_signature_lines(note, [witness.cosign(split_note(note)[0], 7)]))


@pytest.fixture
async def client(source: MemorySource, witness: Cosigner) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    policy = WitnessPolicy(1, (WitnessConfig("http://w.example", witness.verifier_key()),))
    app.include_router(public_log_router(source, policy))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket") as http:
        yield http


async def test_checkpoint(client: httpx.AsyncClient, log: FakeLog, witness: Cosigner) -> None:
    answer = await client.get("/public/log/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    checkpoint, cosignatures = verify_witnessed(answer.text, log.vkey(), [witness.key], 1)
    assert checkpoint.size == 1000 and len(cosignatures) == 1
    again = await client.get(
        "/public/log/checkpoint", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304


async def test_no_checkpoint_yet(client: httpx.AsyncClient, source: MemorySource) -> None:
    source.note = None
    assert (await client.get("/public/log/checkpoint")).status_code == 404
    assert (await client.get("/public/log/tile/0/000")).status_code == 404


async def test_a_spec_client_reads_the_published_tree(
    client: httpx.AsyncClient, log: FakeLog
) -> None:
    note = (await client.get("/public/log/checkpoint")).text
    checkpoint = parse_checkpoint(note)
    fetched: dict[str, bytes] = {}

    async def prefetch(path: str) -> None:
        answer = await client.get(f"/public/log/{path}")
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "application/octet-stream"
        full = ".p/" not in path
        assert answer.headers["cache-control"] == (FULL_TILE_CACHE if full else PARTIAL_TILE_CACHE)
        fetched[path] = answer.content

    for path in ["tile/0/000", "tile/0/001", "tile/0/002", "tile/0/003.p/232", "tile/1/000.p/3"]:
        await prefetch(path)
    reader = TilesClient(fetched.__getitem__, checkpoint.size)
    assert reader.root() == checkpoint.root
    for index in (0, 500, 999):
        proof = reader.inclusion_path(index)
        verify_inclusion(reader.leaf_hash(index), index, 1000, proof, checkpoint.root)
    assert base64.b64encode(checkpoint.root).decode() in note


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("tile/0/003.p/232", 200),
        ("tile/0/003.p/5", 200),  # a smaller width of an older checkpoint: still true
        ("tile/0/003.p/233", 404),  # beyond the published size (stored, not published)
        ("tile/0/003", 404),
        ("tile/1/000", 404),
        ("tile/0/3", 404),
        ("tile/0/x000/003", 404),
        ("tile/entries/000", 404),
    ],
)
async def test_which_tiles_are_served(client: httpx.AsyncClient, path: str, status: int) -> None:
    answer = await client.get(f"/public/log/{path}")
    assert answer.status_code == status, answer.text
    if status == 404:
        assert answer.headers["content-type"] == "application/problem+json"


async def test_etag_revalidation(client: httpx.AsyncClient) -> None:
    first = await client.get("/public/log/tile/0/000")
    second = await client.get(
        "/public/log/tile/0/000", headers={"If-None-Match": first.headers["etag"]}
    )
    assert second.status_code == 304
    assert second.headers["cache-control"] == FULL_TILE_CACHE


async def test_witness_policy(client: httpx.AsyncClient, witness: Cosigner) -> None:
    answer = await client.get("/public/log/witnesses")
    assert answer.json() == {
        "quorum": 1,
        "witnesses": [
            {"name": "w.example/1", "vkey": witness.verifier_key(), "url": "http://w.example"}
        ],
    }
