"""The stored Merkle tree, signed checkpoints, export/import and `verify_log`, on both
backends: every proof the database serves verifies against roots computed from the leaves
alone, every pair of stored checkpoints is consistent, and an exported bundle verifies
offline against a checkpoint the service signed."""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events import merkle
from events.bundle import BundleError, verify_bundle
from events.checkpoints import Signer, verify_checkpoint
from events.disclosure import leaf_hash_v2
from events.log_tree import LogTree, TreeError
from events.model import NewEvent, StreamAppend
from events.store import EventStore
from events.transfer import ImportRefused, export_log, import_log
from events.verify_log import verify_log

ORIGIN = "docket.test/log"
START = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


async def fill(store: EventStore, count: int, first: int = 0) -> None:
    """`count` events over a few streams, one append each."""
    for n in range(first, first + count):
        event = NewEvent(
            f"request-HX-2026-{n % 4:04d}",
            "RequestAnnotated",
            {"note": f"note {n} é"},
            START + timedelta(hours=n),
        )
        await store.append(StreamAppend(event.stream_id, "any", [event]))


async def leaves(store: EventStore) -> list[bytes]:
    return [leaf_hash_v2(e.hashed_fields()) for e in await store.read_all(0, 10_000)]


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


async def test_every_proof_verifies_against_roots_from_the_leaves(store: EventStore) -> None:
    await fill(store, 13)
    tree = LogTree(store)
    assert await tree.extend(batch=5) == 13  # several batches resume the stored frontier
    hashes = await leaves(store)
    for size in range(1, 14):
        root = merkle.root_from_leaves(hashes[:size])
        assert await tree.root(size) == root
        for index in range(size):
            leaf, served_root, proof = await tree.inclusion(index, size)
            assert (leaf, served_root) == (hashes[index], root)
            merkle.verify_inclusion(leaf, index, size, proof, root)
        for old in range(1, size + 1):
            old_root, new_root, proof = await tree.consistency(old, size)
            assert old_root == merkle.root_from_leaves(hashes[:old])
            merkle.verify_consistency(old, size, old_root, new_root, proof)


async def test_the_tree_refuses_sizes_beyond_what_it_covers(store: EventStore) -> None:
    await fill(store, 3)
    tree = LogTree(store)
    await tree.extend()
    await fill(store, 1, first=3)
    with pytest.raises(TreeError, match="covers 3"):
        await tree.inclusion(0, 4)
    with pytest.raises(TreeError, match="not in a tree"):
        await tree.inclusion(3, 3)
    with pytest.raises(TreeError, match="0 < from <= to"):
        await tree.consistency(3, 2)


async def test_checkpoints_are_signed_as_the_log_grows_and_are_pairwise_consistent(
    store: EventStore, signer: Signer
) -> None:
    tree = LogTree(store)
    assert await tree.sign_checkpoint(signer, ORIGIN) is None  # nothing to sign
    for batch in (1, 4, 2, 9):
        await fill(store, batch, first=await tree.size())
        signed = await tree.sign_checkpoint(signer, ORIGIN)
        assert signed is not None
        assert await tree.sign_checkpoint(signer, ORIGIN) is None  # already covered
    stored = await tree.checkpoints()
    assert [c.tree_size for c in stored] == [1, 5, 7, 16]
    hashes = await leaves(store)
    for cp in stored:
        checked = verify_checkpoint(cp.note, signer.verifier_key())
        assert (checked.size, checked.root) == (cp.tree_size, bytes.fromhex(cp.root))
        assert checked.root == merkle.root_from_leaves(hashes[: cp.tree_size])
    for older, newer in itertools.combinations(stored, 2):
        old_root, new_root, proof = await tree.consistency(older.tree_size, newer.tree_size)
        assert (old_root.hex(), new_root.hex()) == (older.root, newer.root)
        merkle.verify_consistency(older.tree_size, newer.tree_size, old_root, new_root, proof)
    report = await verify_log(store, signer.verifier_key())
    assert report.ok, report.failures
    assert (report.checkpoints, report.tree_size) == (4, 16)


async def test_an_exported_bundle_verifies_offline(store: EventStore, signer: Signer) -> None:
    await fill(store, 11)
    tree = LogTree(store)
    await tree.sign_checkpoint(signer, ORIGIN)
    note = (await tree.checkpoints())[-1].note
    await fill(store, 3, first=11)  # the bundle may run past the checkpoint
    out = io.BytesIO()
    assert await export_log(store, out) == 14
    lines = out.getvalue().splitlines(keepends=True)
    report = verify_bundle(lines, note, signer.verifier_key())
    assert report.events == 14 and report.checkpoint.size == 11
    other = Signer(ORIGIN, Ed25519PrivateKey.generate())
    with pytest.raises(BundleError):
        verify_bundle(lines, note, other.verifier_key())


async def export_to(store: EventStore, path: Path) -> list[dict[str, object]]:
    out = io.BytesIO()
    await export_log(store, out)
    path.write_bytes(out.getvalue())  # noqa: ASYNC240 (a test's small file)
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_import_round_trips_the_log_exactly(
    store: EventStore, tmp_path: Path, second_database_url: str
) -> None:
    await fill(store, 9)
    exported = await export_to(store, tmp_path / "log.jsonl")
    async with await EventStore.open(second_database_url) as fresh:
        assert await import_log(fresh, tmp_path / "log.jsonl") == 9
        assert await export_to(fresh, tmp_path / "again.jsonl") == exported
        assert (await verify_log(fresh, None)).ok
        with pytest.raises(ImportRefused, match="already holds 9 events"):
            await import_log(fresh, tmp_path / "log.jsonl")


@pytest.mark.parametrize(
    ("edit", "position", "reason"),
    [
        ("data", 4, "hash"),
        ("drop", 6, "position"),
        ("garbage", 2, "line 2"),
    ],
)
async def test_import_refuses_an_edited_export_naming_the_position_and_writes_nothing(
    store: EventStore,
    tmp_path: Path,
    second_database_url: str,
    edit: str,
    position: int,
    reason: str,
) -> None:
    await fill(store, 8)
    events = await export_to(store, tmp_path / "log.jsonl")
    lines = [json.dumps(e) for e in events]
    if edit == "data":
        events[position - 1]["data"] = {"note": "rewritten"}
        lines[position - 1] = json.dumps(events[position - 1])
    elif edit == "drop":
        del lines[position - 1]
    else:
        lines[position - 1] = "{not json"
    (tmp_path / "edited.jsonl").write_text("\n".join(lines) + "\n")
    async with await EventStore.open(second_database_url) as fresh:
        with pytest.raises(ImportRefused, match=reason) as refused:
            await import_log(fresh, tmp_path / "edited.jsonl")
        if edit != "garbage":
            assert refused.value.position == position
        assert await fresh.head() == (0, "00" * 32)


async def test_verify_log_names_a_checkpoint_the_log_no_longer_matches(
    store: EventStore, signer: Signer
) -> None:
    await fill(store, 6)
    tree = LogTree(store)
    await tree.sign_checkpoint(signer, ORIGIN)
    stranger = Signer(ORIGIN, Ed25519PrivateKey.generate())
    report = await verify_log(store, stranger.verifier_key())
    assert not report.ok
    assert "signature does not verify" in report.failures[0]


async def test_times_before_year_1000_hash_and_verify_alike(store: EventStore) -> None:
    """The canonical form writes four-digit years (RFC 3339), as PostgreSQL's verify does."""
    early = NewEvent("committee", "MemberSeated", {"n": 1}, datetime(500, 3, 1, tzinfo=UTC))
    await store.append(StreamAppend("committee", "any", [early]))
    (recorded,) = await store.read_all(0, 10)
    assert recorded.hashed_fields()["occurred_at"] == "0500-03-01T00:00:00.000000Z"
    report = await verify_log(store, None)
    assert report.ok, (report.chain, report.failures)
