"""The chain walk, leaf hashes, the stored Merkle tree, import and the checkpoint writer,
against the in-memory fake backend: what they compute, without a database of events."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs

from events import merkle
from events.checkpoints import Signer
from events.disclosure import leaf_hash_v2
from events.errors import ImportRefused, LogError, LogNotEmpty
from events.log_tree import CheckpointWriter, LogTree, StoredCheckpoint
from events.model import NewEvent, StreamAppend
from events.store import EventStore
from events.transfer import check_file, export_log, import_log
from events.verify_chain import leaf_hashes, verify_store_chain
from tests.events.fake_backend import FakeBackend

START = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
ORIGIN = "docket.test/log"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBackend]:
    backend = FakeBackend()
    await backend.open_tree_tables()
    yield backend


@pytest.fixture
async def store(fake: FakeBackend) -> AsyncIterator[EventStore]:
    async with EventStore(fake) as opened:
        yield opened


async def fill(store: EventStore, count: int) -> None:
    for n in range(count):
        event = NewEvent(f"s{n % 3}", "Noted", {"n": n, "x": 2.5}, START + timedelta(hours=n))
        await store.append(StreamAppend(event.stream_id, "any", [event]))


async def test_the_chain_walk_verifies_and_names_the_first_changed_row(
    store: EventStore, fake: FakeBackend
) -> None:
    await fill(store, 9)
    report = await verify_store_chain(store, batch=4)
    assert (report.ok, report.checked) == (True, 9)
    assert (report.head_position, report.head_hash) == await store.head()
    fake.tamper(6, data='{"n": 99, "x": 2.5}')
    broken = await verify_store_chain(store, batch=4)
    assert (broken.bad_position, broken.checked) == (6, 5)
    assert "hash" in (broken.reason or "")


async def test_the_chain_walk_names_a_broken_link(store: EventStore, fake: FakeBackend) -> None:
    await fill(store, 4)
    fake.tamper(3, prev_hash="11" * 32)
    report = await verify_store_chain(store)
    assert (report.bad_position, report.checked) == (3, 2)
    assert "prev_hash" in (report.reason or "")


async def test_leaf_hashes_are_those_of_the_canonical_forms(store: EventStore) -> None:
    await fill(store, 7)
    expected = [leaf_hash_v2(e.hashed_fields()) for e in await store.read_all(0, 100)]
    assert await leaf_hashes(store, 0, 100) == expected
    assert await leaf_hashes(store, 2, 3) == expected[2:5]


async def test_the_stored_tree_serves_proofs_of_the_roots_from_the_leaves(
    store: EventStore,
) -> None:
    await fill(store, 11)
    tree = LogTree(store)
    assert await tree.extend(batch=4) == 11  # resumes the stored frontier twice
    hashes = await leaf_hashes(store, 0, 100)
    for size in (1, 5, 8, 11):
        root = merkle.root_from_leaves(hashes[:size])
        assert await tree.root(size) == root
        leaf, served, proof = await tree.inclusion(size - 1, size)
        merkle.verify_inclusion(leaf, size - 1, size, proof, served)
        assert served == root
    old_root, new_root, proof = await tree.consistency(5, 11)
    merkle.verify_consistency(5, 11, old_root, new_root, proof)


async def test_import_checks_then_copies_in_and_refuses_a_non_empty_log(
    store: EventStore, tmp_path: Path
) -> None:
    await fill(store, 6)
    out = io.BytesIO()
    assert await export_log(store, out) == 6
    path = tmp_path / "log.jsonl"
    path.write_bytes(out.getvalue())
    async with EventStore(FakeBackend()) as target:
        assert await import_log(target, path, batch=4) == 6
        assert await target.read_all(0, 100) == await store.read_all(0, 100)
        with pytest.raises(LogNotEmpty) as refused:
            await import_log(target, path)
    assert isinstance(refused.value, ImportRefused) and isinstance(refused.value, LogError)


class _FailingTree(LogTree):
    """A tree whose database is away for the first `failures` rounds."""

    def __init__(self, store: EventStore, failures: int) -> None:
        super().__init__(store)
        self.failures = failures
        self.recovered = asyncio.Event()

    async def latest_checkpoint(self, by: datetime | None = None) -> StoredCheckpoint | None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database went away")
        self.recovered.set()
        return await super().latest_checkpoint(by)


async def test_the_checkpoint_writer_logs_its_failures_and_carries_on(store: EventStore) -> None:
    await fill(store, 3)
    tree = _FailingTree(store, failures=2)
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
    writer = CheckpointWriter(tree, signer, ORIGIN, 1, 3600, clock=lambda: START)
    configured = structlog.get_config()
    structlog.reset_defaults()  # whatever another test configured: log every level
    try:
        with capture_logs() as logs:
            task = asyncio.create_task(writer.run_forever(poll_interval=0))
            await tree.recovered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        structlog.configure(**configured)
    failed = [entry for entry in logs if entry["event"] == "docket.checkpoint.failed"]
    assert [entry["error"] for entry in failed[:2]] == [
        repr(ConnectionError("the database went away"))
    ] * 2
    assert failed[0]["log_level"] == "warning"


async def test_an_export_in_canonical_form_v1_is_refused_never_misread(
    store: EventStore, tmp_path: Path
) -> None:
    await fill(store, 3)
    out = io.BytesIO()
    await export_log(store, out)
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert all(len(line["salt"]) == 64 for line in lines)
    for line in lines:
        del line["salt"]
    path = tmp_path / "v1.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    async with EventStore(FakeBackend()) as target:
        with pytest.raises(ImportRefused, match="old canonical form v1") as refused:
            await import_log(target, path)
        assert "line 1 has no salt" in str(refused.value)
        assert await target.read_all(0, 10) == []
    with pytest.raises(ImportRefused, match="old canonical form v1"):
        await check_file(path)


async def test_an_import_with_one_salt_changed_names_its_position(
    store: EventStore, tmp_path: Path
) -> None:
    await fill(store, 4)
    out = io.BytesIO()
    await export_log(store, out)
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    lines[2]["salt"] = "0" * 64
    path = tmp_path / "salted.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    async with EventStore(FakeBackend()) as target:
        with pytest.raises(ImportRefused, match="hash does not match") as refused:
            await import_log(target, path)
    assert refused.value.position == 3
