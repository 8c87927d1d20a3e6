"""One witnesses' submitter per database: with several API processes on one PostgreSQL
log, the one holding the advisory lock submits each checkpoint and the others stand by
until it stops; then one of them takes over (SQLite has no lock: its one process submits).
Real witness (uvicorn on 127.0.0.1), real store, real lock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import Signer
from events.cosignature import Cosigner
from events.log_tree import LogTree
from events.model import NewEvent, StreamAppend
from events.published import CosignatureLog
from events.store import EventStore
from service.publishing.cosigning import WITNESSING_LOCK_KEY, Cosigning
from tests.witness.servers import config, serve, witness_app

ORIGIN = "docket.example.org/log"


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def witness(signer: Signer, tmp_path: Path) -> Iterator[tuple[str, Cosigner]]:
    app, cosigner = witness_app("w0.example/w", [signer.verifier_key()], tmp_path / "w0.db")
    with serve(app) as url:
        yield url, cosigner


@pytest.fixture
async def two_stores(database_url: str) -> AsyncIterator[tuple[EventStore, EventStore]]:
    """The same database opened twice, as by two API processes."""
    first = await EventStore.open(database_url)
    second = await EventStore.open(database_url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def submitter(store: EventStore, witness: tuple[str, Cosigner]) -> Cosigning:
    return Cosigning(
        LogTree(store),
        CosignatureLog(store.engine),
        [config(*witness)],
        1,
        timeout=10,
        retry_seconds=1,
        lock=store.backend.session_lock(WITNESSING_LOCK_KEY),
    )


async def grow_and_sign(store: EventStore, signer: Signer, count: int) -> int:
    events = [NewEvent("s-1", "Noted", {"n": n}, datetime.now(UTC)) for n in range(count)]
    await store.append(StreamAppend("s-1", "any", events))
    signed = await LogTree(store).sign_checkpoint(signer, ORIGIN)
    assert signed is not None
    return signed.tree_size


async def test_one_process_submits_and_another_takes_over_when_it_stops(
    two_stores: tuple[EventStore, EventStore],
    signer: Signer,
    witness: tuple[str, Cosigner],
) -> None:
    first_store, second_store = two_stores
    first, second = submitter(first_store, witness), submitter(second_store, witness)
    cosignatures = CosignatureLog(first_store.engine)
    try:
        size = await grow_and_sign(first_store, signer, 3)
        assert await first.run_once() == 1
        assert first.active
        if first_store.backend.session_lock(WITNESSING_LOCK_KEY).exclusive:
            # PostgreSQL: the second process stands by, asking no witness anything
            size = await grow_and_sign(first_store, signer, 2)
            assert await second.run_once() == 0
            assert not second.active
            assert second.status() == []
            assert await cosignatures.lines(size) == []
            assert await first.run_once() == 1  # the submitter cosigns the new one
            await first.aclose()  # the submitter stops: the lock is released
        size = await grow_and_sign(first_store, signer, 4)
        assert await second.run_once() == 1
        assert second.active
        assert len(await cosignatures.lines(size)) == 1
    finally:
        await first.aclose()
        await second.aclose()
