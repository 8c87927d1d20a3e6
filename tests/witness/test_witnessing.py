"""The log submits checkpoints to real witnesses (uvicorn on 127.0.0.1): resync on 409,
verified cosignatures, and witnesses down, slow or answering garbage (R10)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import split_note
from events.cosignature import Cosignature, Cosigner, CosignerKey, verify_cosignature_line
from events.witnessing import (
    WitnessConfig,
    WitnessedCheckpoint,
    WitnessPublisher,
    parse_witnesses,
    published,
)
from tests.hostile import GIGABYTE, Reply, always, endless, hostile_server, huge
from tests.witness.logs import FakeLog
from tests.witness.servers import (
    bound_socket,
    config,
    garbage_app,
    serve,
    slow_app,
    url_of,
    witness_app,
)


@pytest.fixture
def log() -> FakeLog:
    return FakeLog().grow(10)


@pytest.fixture
def three(log: FakeLog, tmp_path: Path) -> Iterator[list[tuple[str, Cosigner]]]:
    """Three real witnesses that trust `log`."""
    apps = [witness_app(f"w{i}.example/w", [log.vkey()], tmp_path / f"w{i}.db") for i in range(3)]
    with serve(apps[0][0]) as a, serve(apps[1][0]) as b, serve(apps[2][0]) as c:
        yield [(a, apps[0][1]), (b, apps[1][1]), (c, apps[2][1])]


def configs(witnesses: list[tuple[str, Cosigner]]) -> list[WitnessConfig]:
    return [config(url, cosigner) for url, cosigner in witnesses]


class TestCosign:
    async def test_every_witness_cosigns_each_checkpoint(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        publisher = WitnessPublisher(configs(three), log.async_proof, timeout=10)
        try:
            for growth in (0, 5, 1, 300):
                log.grow(growth)
                note = log.checkpoint()
                cosignatures = await publisher.cosign(note)
                assert sorted(c.witness for c in cosignatures) == [
                    "w0.example/w",
                    "w1.example/w",
                    "w2.example/w",
                ]
                text, _ = split_note(note)
                for (_, cosigner), cosignature in zip(
                    three, sorted(cosignatures, key=lambda c: c.witness), strict=True
                ):
                    verify_cosignature_line(text, cosignature.line, cosigner.key)
                assert {s.last_cosigned_size for s in publisher.status()} == {log.size}
                assert {s.last_error for s in publisher.status()} == {None}
        finally:
            await publisher.aclose()

    async def test_resyncs_from_the_size_a_witness_reports(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        first = WitnessPublisher(configs(three[:1]), log.async_proof, timeout=10)
        assert len(await first.cosign(log.checkpoint())) == 1
        await first.aclose()
        log.grow(9)
        # A publisher that knows nothing (a restarted log) starts from old 0, hears 409 10.
        fresh = WitnessPublisher(configs(three[:1]), log.async_proof, timeout=10)
        try:
            assert len(await fresh.cosign(log.checkpoint())) == 1
            assert fresh.status()[0].last_cosigned_size == 19
        finally:
            await fresh.aclose()

    async def test_a_witness_that_lost_its_state_is_caught_up(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        url, cosigner = three[0]
        publisher = WitnessPublisher(
            [config(url, cosigner)], log.async_proof, timeout=10, known_sizes={cosigner.name: 7}
        )
        try:
            # The log believed the witness at 7; it has nothing: 409 "0", then old 0.
            assert len(await publisher.cosign(log.checkpoint())) == 1
        finally:
            await publisher.aclose()

    async def test_a_forked_log_gets_no_cosignature(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        fork = log.fork()
        log.grow(4)
        fork.grow(6)
        honest = WitnessPublisher(configs(three), log.async_proof, timeout=10)
        forked = WitnessPublisher(configs(three), fork.async_proof, timeout=10)
        try:
            assert len(await honest.cosign(log.checkpoint())) == 3
            assert await forked.cosign(fork.checkpoint()) == []
            for status in forked.status():
                assert status.last_error is not None and "422" in status.last_error
            assert (
                published([WitnessedCheckpoint(fork.checkpoint())], honest.keys(), quorum=1) is None
            )
        finally:
            await honest.aclose()
            await forked.aclose()

    async def test_a_checkpoint_short_of_its_quorum_is_asked_again(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        publisher = WitnessPublisher(configs(three), log.async_proof, timeout=10)
        try:
            note = log.checkpoint()
            first = await publisher.cosign(note, skip={"w1.example/w", "w2.example/w"})
            assert [c.witness for c in first] == ["w0.example/w"]
            # The same checkpoint again (no new events): the others cosign it now, and
            # a witness that cosigned it already cosigns it again (old size = size).
            again = await publisher.cosign(note, skip={"w2.example/w"})
            assert sorted(c.witness for c in again) == ["w0.example/w", "w1.example/w"]
            assert await publisher.cosign(note, skip={c.key.name for c in publisher.clients}) == []
        finally:
            await publisher.aclose()

    async def test_a_proof_the_log_cannot_compute_is_reported(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        async def broken(old: int, new: int) -> list[bytes]:
            raise RuntimeError("merkle_nodes unreachable")

        url, cosigner = three[0]
        publisher = WitnessPublisher(
            [config(url, cosigner)], broken, timeout=10, known_sizes={cosigner.name: 3}
        )
        try:
            assert await publisher.cosign(log.checkpoint()) == []
            assert "merkle_nodes unreachable" in (publisher.status()[0].last_error or "")
        finally:
            await publisher.aclose()


class TestFaultyWitnesses:
    async def test_down_slow_and_garbage_never_hold_the_caller(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        release = threading.Event()
        down = bound_socket()  # bound, never listening: connections are refused
        impostor = Cosigner("slow.example/w", Ed25519PrivateKey.generate())
        junk = Cosigner("junk.example/w", Ed25519PrivateKey.generate())
        with serve(slow_app(release)) as slow, serve(garbage_app()) as garbage:
            witnesses = [
                *configs(three[:2]),
                WitnessConfig(
                    url_of(down),
                    Cosigner("down.example/w", Ed25519PrivateKey.generate()).verifier_key(),
                ),
                WitnessConfig(slow, impostor.verifier_key()),
                WitnessConfig(garbage, junk.verifier_key()),
            ]
            publisher = WitnessPublisher(witnesses, log.async_proof, timeout=1.0)
            try:
                note = log.checkpoint()
                # The slow witness is still blocked on `release` when cosign returns.
                cosignatures = await publisher.cosign(note)
                assert not release.is_set()
                assert sorted(c.witness for c in cosignatures) == ["w0.example/w", "w1.example/w"]
                status = {s.name: s for s in publisher.status()}
                assert "Connect" in (status["down.example/w"].last_error or "")
                assert "no answer within 1.0 s" in (status["slow.example/w"].last_error or "")
                assert "not signature lines" in (status["junk.example/w"].last_error or "")
                assert status["w0.example/w"].last_error is None
                witnessed = WitnessedCheckpoint(note, tuple(c.line for c in cosignatures))
                assert published([witnessed], publisher.keys(), quorum=2) == witnessed
                assert published([witnessed], publisher.keys(), quorum=3) is None
            finally:
                release.set()
                await publisher.aclose()
        down.close()

    async def test_each_cosignature_is_handed_over_as_it_arrives(
        self, log: FakeLog, three: list[tuple[str, Cosigner]]
    ) -> None:
        release = threading.Event()
        impostor = Cosigner("slow.example/w", Ed25519PrivateKey.generate())
        with serve(slow_app(release)) as slow:
            witnesses = [*configs(three[:2]), WitnessConfig(slow, impostor.verifier_key())]
            publisher = WitnessPublisher(witnesses, log.async_proof, timeout=3.0)
            arrived: list[tuple[str, str | None]] = []

            async def keep(cosignature: Cosignature) -> None:
                # what the publisher knows of the slow witness when this one arrives
                slow_status = {s.name: s for s in publisher.status()}["slow.example/w"]
                arrived.append((cosignature.witness, slow_status.last_error))

            try:
                cosignatures = await publisher.cosign(log.checkpoint(), on_cosigned=keep)
                timed_out = {s.name: s for s in publisher.status()}["slow.example/w"]
            finally:
                release.set()
                await publisher.aclose()
        assert sorted(c.witness for c in cosignatures) == ["w0.example/w", "w1.example/w"]
        # both were handed over while the slow witness was still awaited, not at its timeout
        assert sorted(arrived) == [("w0.example/w", None), ("w1.example/w", None)]
        assert "no answer within 3.0 s" in (timed_out.last_error or "")

    async def test_a_witness_down_then_back_cosigns_again(
        self, log: FakeLog, tmp_path: Path
    ) -> None:
        app, cosigner = witness_app("back.example/w", [log.vkey()], tmp_path / "back.db")
        sock = bound_socket()
        publisher = WitnessPublisher([config(url_of(sock), cosigner)], log.async_proof, timeout=5)
        try:
            assert await publisher.cosign(log.checkpoint()) == []
            assert publisher.status()[0].last_error is not None
            with serve(app, sock):
                log.grow(3)
                [cosignature] = await publisher.cosign(log.checkpoint())
                assert cosignature.witness == "back.example/w"
                assert publisher.status()[0].last_error is None
                assert publisher.status()[0].last_cosigned_size == 13
        finally:
            await publisher.aclose()

    async def test_a_witness_answering_a_gigabyte_is_read_only_to_64_kib(
        self, log: FakeLog
    ) -> None:
        # SPEC §4: the answer is streamed and cut at 64 KiB, not read whole and then checked.
        witness = Cosigner("w.example/w", Ed25519PrivateKey.generate())
        replies = {
            "huge": Reply(stream=huge()),
            "declared": Reply(body=b"9" * 100_000),
            "endless": Reply(stream=endless()),
            "size": Reply(status=409, body=b"9" * 5000, content_type="text/x.tlog.size"),
        }
        for name, reply in replies.items():
            with hostile_server(always(reply)) as server:
                publisher = WitnessPublisher(
                    [config(server.url, witness)], log.async_proof, timeout=1.0
                )
                try:
                    assert await publisher.cosign(log.checkpoint()) == []
                    [status] = publisher.status()
                finally:
                    await publisher.aclose()
            assert status.last_error is not None
            expected = {
                "huge": "over 64 KiB",
                "declared": "over 64 KiB (Content-Length)",
                "endless": "within 1.0 s",
                "size": "not a text/x.tlog.size answer",
            }[name]
            assert expected in status.last_error, (name, status.last_error)
            assert server.sent < GIGABYTE // 100, name


class TestPublished:
    def test_newest_with_a_quorum(self, log: FakeLog) -> None:
        a, b, c = (Cosigner(f"q{i}.example/w", Ed25519PrivateKey.generate()) for i in range(3))
        keys = [a.key, b.key, c.key]
        notes = []
        for _ in range(3):
            log.grow(1)
            notes.append(log.checkpoint())
        texts = [split_note(note)[0] for note in notes]
        candidates = [
            WitnessedCheckpoint(notes[0], (a.cosign(texts[0], 1), b.cosign(texts[0], 1))),
            WitnessedCheckpoint(notes[1], (a.cosign(texts[1], 1), c.cosign(texts[1], 1))),
            # Two lines, but one is a's cosignature of another checkpoint: not valid here.
            WitnessedCheckpoint(notes[2], (a.cosign(texts[2], 1), b.cosign(texts[1], 1))),
        ]
        chosen = published(candidates, keys, quorum=2)
        assert chosen == candidates[1]
        assert published(candidates, keys, quorum=1) == WitnessedCheckpoint(
            notes[2], (candidates[2].cosignatures[0],)
        )
        assert published(candidates, keys, quorum=3) is None
        assert published(list(reversed(candidates)), keys, quorum=2) == candidates[1]
        assert published([], keys, quorum=0) is None
        assert published(candidates, [], quorum=0) == WitnessedCheckpoint(notes[2])
        assert chosen is not None and chosen.text() == notes[1] + "".join(chosen.cosignatures)


class TestConfiguration:
    def test_docket_witnesses(self) -> None:
        key = Cosigner("w.example/1", Ed25519PrivateKey.generate()).verifier_key()
        text = f'[{{"url": "http://127.0.0.1:9001/", "key": "{key}"}}]'
        assert parse_witnesses(text) == [WitnessConfig("http://127.0.0.1:9001", key)]
        assert parse_witnesses("") == []
        for bad in ("{", "{}", '[{"url": 1}]', '[{"url": "u", "key": "nope"}]'):
            with pytest.raises(ValueError):
                parse_witnesses(bad)


def test_one_key_under_two_names_is_one_vote_toward_publication(log: FakeLog) -> None:
    a = Cosigner("a.example/w", Ed25519PrivateKey.generate())
    alias = CosignerKey.of("alias.example/w", a.key.public_key)
    log.grow(1)
    note = log.checkpoint()
    line = a.cosign(split_note(note)[0], 1)
    blob = base64.b64decode(line.rstrip("\n").rpartition(" ")[2])[4:]
    copied = f"\u2014 {alias.name} {base64.b64encode(alias.key_id + blob).decode()}\n"
    candidate = WitnessedCheckpoint(note, (line, copied))
    assert published([candidate], [alias], quorum=1) == WitnessedCheckpoint(note, (copied,))
    assert published([candidate], [a.key, alias], quorum=2) is None
    assert published([candidate], [a.key, alias], quorum=1) == WitnessedCheckpoint(note, (line,))
