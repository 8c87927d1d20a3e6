"""The `cosignatures` table (migration 0007) through `events.published.CosignatureLog`, on
both backends: kept once per witness and size, append-only, and the candidates a
published checkpoint is chosen from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import DBAPIError

from events.checkpoints import Signer, parse_checkpoint, split_note
from events.cosignature import Cosignature, Cosigner, verify_cosignature_line
from events.log_tree import LogTree
from events.published import Candidate, CosignatureLog
from events.schema import checkpoints, cosignatures
from events.store import EventStore
from events.witnessing import WitnessedCheckpoint, published

ORIGIN = "docket.example.org/log"


async def sign(store: EventStore, signer: Signer, size: int, at: datetime | None = None) -> str:
    note = signer.sign_checkpoint(ORIGIN, size, bytes([size]) * 32)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(checkpoints).values(
                tree_size=size,
                root=(bytes([size]) * 32).hex(),
                note=note,
                created_at=at or datetime.now(UTC),
            )
        )
    return note


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def witnesses() -> list[Cosigner]:
    return [Cosigner(f"w{i}.example/w", Ed25519PrivateKey.generate()) for i in range(3)]


def cosign(note: str, witness: Cosigner) -> Cosignature:
    text, _ = split_note(note)
    return verify_cosignature_line(text, witness.cosign(text, 1_767_225_600), witness.key)


async def test_kept_once_and_append_only(
    store: EventStore, signer: Signer, witnesses: list[Cosigner]
) -> None:
    log = CosignatureLog(store.engine)
    note = await sign(store, signer, 5)
    first = [cosign(note, w) for w in witnesses[:2]]
    assert await log.add(5, first) == 2
    # The same witness again (a retry, another process): nothing new.
    assert await log.add(5, [cosign(note, witnesses[0])]) == 0
    assert await log.add(5, [cosign(note, witnesses[2])]) == 1
    assert len(await log.lines(5)) == 3
    assert await log.known_sizes() == {w.name: 5 for w in witnesses}
    for statement in (
        update(cosignatures).values(line="forged"),
        delete(cosignatures),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(statement)
    assert len(await log.lines(5)) == 3


async def test_candidates_and_the_published_choice(
    store: EventStore, signer: Signer, witnesses: list[Cosigner]
) -> None:
    log = CosignatureLog(store.engine)
    keys = [w.key for w in witnesses]
    assert await log.candidates(2) == []
    old = await sign(store, signer, 3)
    await log.add(3, [cosign(old, w) for w in witnesses])
    newer = await sign(store, signer, 7)
    await log.add(7, [cosign(newer, witnesses[0])])
    newest = await sign(store, signer, 9)  # not cosigned yet
    found = await log.candidates(2)
    assert [c.checkpoint.tree_size for c in found] == [9, 3]  # 7 has one line of two
    chosen = published([WitnessedCheckpoint(c.checkpoint.note, c.lines) for c in found], keys, 2)
    assert chosen is not None and chosen.note == old and len(chosen.cosignatures) == 3
    # Quorum 0: the newest signed one, whatever it carries.
    zero = await log.candidates(0)
    assert zero[0].checkpoint.note == newest
    # LogTree reads ranges of stored nodes for tiles (none stored here).
    assert await LogTree(store).hashes(0, 0, 256) == []


async def test_candidates_as_the_tables_stood_at_a_moment(
    store: EventStore, signer: Signer, witnesses: list[Cosigner]
) -> None:
    """`by`: the checkpoints signed and the lines received by then (the checkpoint public
    statistics of a day are read at, SPEC §7): a line received later counts later."""
    log = CosignatureLog(store.engine)
    keys = [w.key for w in witnesses]
    day = datetime(2030, 6, 13, tzinfo=UTC)
    first = await sign(store, signer, 3, day + timedelta(hours=1))
    await log.add(3, [cosign(first, w) for w in witnesses[:2]], day + timedelta(hours=2))
    second = await sign(store, signer, 7, day + timedelta(hours=22))
    # cosigned by one witness that day, by the second only after midnight
    await log.add(7, [cosign(second, witnesses[0])], day + timedelta(hours=23))
    await log.add(7, [cosign(second, witnesses[1])], day + timedelta(days=1, minutes=5))
    await sign(store, signer, 9, day + timedelta(days=1, hours=1))

    def chosen(found: list[Candidate]) -> int | None:
        picked = published(
            [WitnessedCheckpoint(c.checkpoint.note, c.lines) for c in found], keys, 2
        )
        return None if picked is None else parse_checkpoint(picked.note).size

    end = day + timedelta(days=1, microseconds=-1)
    assert chosen(await log.candidates(2, by=end)) == 3
    assert (await log.candidates(0, by=end))[0].checkpoint.tree_size == 7
    assert chosen(await log.candidates(2, by=day + timedelta(days=1, minutes=5))) == 7
    assert chosen(await log.candidates(2)) == 7
    assert chosen(await log.candidates(2, by=day)) is None
    tree = LogTree(store)
    latest = await tree.latest_checkpoint(by=end)
    assert latest is not None and latest.tree_size == 7
    assert await tree.latest_checkpoint(by=day) is None
