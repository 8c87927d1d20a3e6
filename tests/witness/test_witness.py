"""The witness, case by case per C2SP tlog-witness, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import split_note
from events.cosignature import Cosigner, verify_cosignature_line
from events.witnessing import submission_body as format_submission
from service.witness.app import create_witness_app
from service.witness.protocol import Latest, SizeConflict
from service.witness.storage import WitnessStore
from service.witness.witness import Witness, trusted_logs
from tests.witness.logs import FakeLog

NOW = 1_767_225_600


@pytest.fixture
def log() -> FakeLog:
    return FakeLog().grow(10)


@pytest.fixture
def cosigner() -> Cosigner:
    return Cosigner("witness.example.org/w1", Ed25519PrivateKey.generate())


@pytest.fixture
async def store(witness_database_url: str) -> AsyncIterator[WitnessStore]:
    opened = WitnessStore(witness_database_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def client(
    log: FakeLog, cosigner: Cosigner, store: WitnessStore
) -> AsyncIterator[httpx.AsyncClient]:
    witness = Witness(cosigner, trusted_logs([log.vkey()]), store, clock=lambda: NOW)
    app = create_witness_app(witness)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://witness") as http:
        yield http


async def submit(
    client: httpx.AsyncClient, log: FakeLog, old: int, size: int | None = None
) -> httpx.Response:
    size = log.size if size is None else size
    body = format_submission(old, log.proof(old, size), log.checkpoint(size))
    return await client.post("/add-checkpoint", content=body)


class TestCosigns:
    async def test_first_and_next_checkpoints(
        self, client: httpx.AsyncClient, log: FakeLog, cosigner: Cosigner, store: WitnessStore
    ) -> None:
        first = await submit(client, log, 0)
        assert first.status_code == 200, first.text
        text, _ = split_note(log.checkpoint())
        cosignature = verify_cosignature_line(text, first.text, cosigner.key)
        assert cosignature.timestamp == NOW
        assert first.text.endswith("\n") and first.text.count("\n") == 1
        assert await store.latest(log.origin) == Latest(10, log.root())
        log.grow(7)
        second = await submit(client, log, 10)
        assert second.status_code == 200, second.text
        assert await store.latest(log.origin) == Latest(17, log.root())

    async def test_the_same_checkpoint_again(self, client: httpx.AsyncClient, log: FakeLog) -> None:
        assert (await submit(client, log, 0)).status_code == 200
        assert (await submit(client, log, 10)).status_code == 200

    async def test_the_empty_tree(self, client: httpx.AsyncClient, log: FakeLog) -> None:
        assert (await submit(client, log, 0, 0)).status_code == 200

    async def test_signatures_by_unknown_keys_are_ignored(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        stranger = FakeLog(origin="somebody.else/log")
        note = log.checkpoint()
        text, _ = split_note(note)
        extra = Cosigner("witness.example/other", Ed25519PrivateKey.generate()).cosign(text, 1)
        body = format_submission(0, [], note + extra)
        assert (await client.post("/add-checkpoint", content=body)).status_code == 200
        # The stranger's log key (another name) is not trusted for anything.
        assert (await submit(client, stranger.grow(1), 0)).status_code == 404


class TestRefuses:
    async def test_unknown_origin_is_404(self, client: httpx.AsyncClient) -> None:
        other = FakeLog(origin="elsewhere.example/log").grow(3)
        response = await submit(client, other, 0)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["rule"] == "witness.unknown-origin"

    async def test_a_signature_by_another_key_is_403(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        impostor = FakeLog(origin=log.origin).grow(3)
        response = await submit(client, impostor, 0)
        assert response.status_code == 403
        assert response.json()["rule"] == "witness.bad-signature"

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"old 0\n",
            b"old 01\n\n",
            b"old -1\n\n",
            b"old x\n\n",
            b"Old 0\n\n",
            b"old 0\nnot-base64!\n\n",
            b"old 0\nAAAA\n\n",
            b"\xff\xfe\n\n",
            b"old 0\n\nnot a checkpoint\n",
        ],
    )
    async def test_malformed_bodies_are_400(self, client: httpx.AsyncClient, body: bytes) -> None:
        response = await client.post("/add-checkpoint", content=body)
        assert response.status_code == 400, response.text
        assert response.json()["rule"] == "witness.malformed-request"

    async def test_more_than_63_proof_lines_is_400(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        body = format_submission(0, [b"\x00" * 32] * 64, log.checkpoint())
        assert (await client.post("/add-checkpoint", content=body)).status_code == 400

    async def test_old_size_above_the_checkpoint_is_400(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        body = format_submission(11, [], log.checkpoint())
        assert (await client.post("/add-checkpoint", content=body)).status_code == 400

    async def test_a_stale_old_size_is_409_with_the_latest_size(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        assert (await submit(client, log, 0)).status_code == 200
        log.grow(5)
        for old in (0, 3, 12):
            response = await submit(client, log, old)
            assert response.status_code == 409
            assert response.headers["content-type"] == "text/x.tlog.size"
            assert response.content == b"10\n"

    async def test_never_cosigned_answers_409_0(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        response = await submit(client, log, 4)
        assert (response.status_code, response.content) == (409, b"0\n")

    async def test_another_root_at_the_same_size_is_409(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        fork = log.fork()
        log.grow(2)
        fork.grow(2)
        assert (await submit(client, log, 0)).status_code == 200
        response = await submit(client, fork, 12)
        assert (response.status_code, response.content) == (409, b"12\n")

    async def test_a_bad_proof_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, log: FakeLog, store: WitnessStore
    ) -> None:
        assert (await submit(client, log, 0)).status_code == 200
        log.grow(6)
        proof = log.proof(10, 16)
        proof[0] = bytes(32)
        body = format_submission(10, proof, log.checkpoint())
        response = await client.post("/add-checkpoint", content=body)
        assert response.status_code == 422
        assert response.json()["rule"] == "witness.bad-proof"
        assert await store.latest(log.origin) == Latest(10, log.root(10))
        assert (await submit(client, log, 10)).status_code == 200

    async def test_a_proof_from_size_0_must_be_empty(
        self, client: httpx.AsyncClient, log: FakeLog
    ) -> None:
        body = format_submission(0, [bytes(32)], log.checkpoint())
        assert (await client.post("/add-checkpoint", content=body)).status_code == 422

    async def test_a_fork_is_never_cosigned(self, client: httpx.AsyncClient, log: FakeLog) -> None:
        # R9: two logs under one key share 10 leaves, then diverge.
        fork = log.fork()
        log.grow(5)
        fork.grow(8)
        assert (await submit(client, log, 0)).status_code == 200
        # The fork's own proof from 15 leads to its own root at 15, not the cosigned one.
        assert (await submit(client, fork, 15)).status_code == 422
        # From the shared size the witness says where it stands.
        assert (await submit(client, fork, 10)).status_code == 409
        assert (await submit(client, fork, 0)).status_code == 409
        log.grow(1)
        assert (await submit(client, log, 15)).status_code == 200

    async def test_an_oversized_body_is_413(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/add-checkpoint", content=b"old 0\n" + b"A" * 70_000)
        assert response.status_code == 413


class TestAtomicCheckAndStore:
    async def test_concurrent_submissions_from_one_old_size_one_wins(
        self, client: httpx.AsyncClient, log: FakeLog, store: WitnessStore
    ) -> None:
        assert (await submit(client, log, 0)).status_code == 200
        log.grow(20)
        sizes = list(range(11, 31))
        responses = await asyncio.gather(*(submit(client, log, 10, size) for size in sizes))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 1, statuses
        winner = sizes[statuses.index(200)]
        assert set(statuses) == {200, 409}
        latest = await store.latest(log.origin)
        assert latest == Latest(winner, log.root(winner))
        for response in responses:
            if response.status_code == 409:
                assert response.content in (b"10\n", f"{winner}\n".encode())

    async def test_compare_and_set_refuses_a_stale_expectation(self, store: WitnessStore) -> None:
        one, two = Latest(1, bytes(32)), Latest(2, b"\x01" * 32)
        assert await store.compare_and_set("o", None, one, "n1")
        assert not await store.compare_and_set("o", None, two, "n2")
        assert await store.compare_and_set("o", one, two, "n2")
        assert not await store.compare_and_set("o", one, Latest(3, bytes(32)), "n3")
        assert await store.latest("o") == two

    async def test_the_schema_is_created_once(self, store: WitnessStore) -> None:
        again = WitnessStore(store.url)
        await again.open()
        await again.close()
        assert await store.latest("nobody") is None


def test_format_submission_is_the_spec_layout() -> None:
    body = format_submission(20852014, [b"\x01" * 32, b"\x02" * 32], "origin\n5\nroot\n\n— x y\n")
    lines = body.decode().split("\n")
    assert lines[0] == "old 20852014"
    assert lines[1] == base64.b64encode(b"\x01" * 32).decode()
    assert lines[3] == ""
    assert lines[4] == "origin"


async def test_two_processes_of_one_witness_share_its_state(
    witness_database_url: str, log: FakeLog, cosigner: Cosigner
) -> None:
    """Each remembers what it stored last; neither refuses on that memory when stale."""
    stores = [WitnessStore(witness_database_url), WitnessStore(witness_database_url)]
    for opened in stores:
        await opened.open()
    first, second = (
        Witness(cosigner, trusted_logs([log.vkey()]), opened, clock=lambda: NOW)
        for opened in stores
    )
    try:

        def body(old: int) -> bytes:
            return format_submission(old, log.proof(old, log.size), log.checkpoint())

        await first.add_checkpoint(body(0))  # first remembers 10
        log.grow(5)
        await second.add_checkpoint(body(10))  # the stored state is now 15
        log.grow(5)
        await first.add_checkpoint(body(15))  # first's memory (10) is stale, not fatal
        with pytest.raises(SizeConflict) as conflict:
            await second.add_checkpoint(body(15))  # second remembers 15, truly stale
        assert conflict.value.latest_size == 20
        assert await stores[0].latest(log.origin) == Latest(20, log.root())
    finally:
        for opened in stores:
            await opened.close()


class TestMonitorRetrieval:
    """`GET /<sha256(origin) hex>/checkpoint` (SPEC §8): the latest cosigned checkpoint."""

    async def test_the_latest_cosigned_checkpoint_with_both_signatures(
        self, client: httpx.AsyncClient, log: FakeLog, cosigner: Cosigner
    ) -> None:
        import hashlib

        from events.cosignature import verify_witnessed

        path = f"/{hashlib.sha256(log.origin.encode()).hexdigest()}/checkpoint"
        assert (await client.get(path)).status_code == 404  # never cosigned yet
        note = log.checkpoint()
        text, _ = split_note(note)
        other = Cosigner("witness.example/other", Ed25519PrivateKey.generate()).cosign(text, 1)
        body = format_submission(0, [], note + other)
        assert (await client.post("/add-checkpoint", content=body)).status_code == 200
        log.grow(5)
        assert (await submit(client, log, 10)).status_code == 200
        answer = await client.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        checkpoint, cosigned = verify_witnessed(answer.text, log.vkey(), [cosigner.key], 1)
        assert checkpoint.size == 15 and [c.timestamp for c in cosigned] == [NOW]
        assert (
            answer.text.startswith(log.checkpoint()) and "witness.example/other" not in answer.text
        )
        for unknown in ("/" + "0" * 64 + "/checkpoint", "/nothex/checkpoint"):
            assert (await client.get(unknown)).status_code == 404
