"""R9 end to end: two logs under one key diverge after N. Every witness refuses the second
branch and never cosigns it; a client that checks the quorum accepts only one branch; a
monitor that saw one branch catches the other from the public tiles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from events.checkpoints import parse_checkpoint
from events.cosignature import Cosigner
from events.witnessing import WitnessedCheckpoint, WitnessPublisher, published
from service.monitor.monitor import Evidence, MonitorSettings, check_once, read_state
from service.publishing.public_log import WitnessPolicy, public_log_router
from tests.witness.logs import FakeLog
from tests.witness.servers import config, serve, witness_app


class Branch:
    """One database's view: its tree and the checkpoint it publishes."""

    def __init__(self, log: FakeLog) -> None:
        self.log = log
        self.note: str | None = None

    async def published_checkpoint(self) -> str | None:
        return self.note

    async def node_hashes(self, level: int, first: int, end: int) -> Sequence[bytes]:
        return [self.log.nodes[(level, i)] for i in range(first, end)]


class SplitView:
    """One public URL whose operator chooses which branch it shows."""

    def __init__(self, branches: dict[str, Branch]) -> None:
        self.apps = {}
        for name, branch in branches.items():
            app = FastAPI()
            app.include_router(public_log_router(branch, WitnessPolicy(2)))
            self.apps[name] = app
        self.showing = next(iter(branches))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.apps[self.showing](scope, receive, send)


@pytest.fixture
def honest() -> FakeLog:
    return FakeLog().grow(10)


@pytest.fixture
def witnesses(honest: FakeLog, tmp_path: Path) -> Iterator[list[tuple[str, Cosigner]]]:
    apps = [witness_app(f"w{i}.example/w", [honest.vkey()], tmp_path / f"{i}.db") for i in range(3)]
    with serve(apps[0][0]) as a, serve(apps[1][0]) as b, serve(apps[2][0]) as c:
        yield [(a, apps[0][1]), (b, apps[1][1]), (c, apps[2][1])]


async def publish(branch: Branch, publisher: WitnessPublisher, quorum: int) -> list[str]:
    note = branch.log.checkpoint()
    cosignatures = await publisher.cosign(note)
    lines = tuple(c.line for c in cosignatures)
    chosen = published([WitnessedCheckpoint(note, lines)], publisher.keys(), quorum)
    if chosen is not None:
        branch.note = chosen.text()
    return [c.witness for c in cosignatures]


async def test_a_fork_is_refused_by_the_witnesses_and_caught_by_the_monitor(
    honest: FakeLog, witnesses: list[tuple[str, Cosigner]], tmp_path: Path
) -> None:
    forked = honest.fork()
    honest.grow(5)
    forked.grow(8)
    a, b = Branch(honest), Branch(forked)
    configs = [config(url, cosigner) for url, cosigner in witnesses]
    publisher_a = WitnessPublisher(configs, honest.async_proof, timeout=10)
    publisher_b = WitnessPublisher(configs, forked.async_proof, timeout=10)
    try:
        assert len(await publish(a, publisher_a, 2)) == 3
        assert await publish(b, publisher_b, 2) == []  # every witness refuses branch b
        assert b.note is None  # so the forked log publishes nothing
        for status in publisher_b.status():
            assert status.last_error is not None
            assert "422" in status.last_error or "409" in status.last_error
        # Branch a goes on; branch b still gets nothing, however it grows.
        honest.grow(3)
        forked.grow(3)
        assert len(await publish(a, publisher_a, 2)) == 3
        assert await publish(b, publisher_b, 2) == []

        # The operator shows branch b anyway, with the log's signature alone.
        b.note = forked.checkpoint()
        view = SplitView({"a": a, "b": b})
        keys = tuple(publisher_a.keys())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=view), base_url="http://docket"
        ) as http:
            strict = MonitorSettings(
                "http://docket", honest.vkey(), keys, 2, tmp_path / "strict.json", "tiles"
            )
            lax = MonitorSettings(
                "http://docket", honest.vkey(), keys, 0, tmp_path / "lax.json", "tiles"
            )
            assert (await check_once(http, strict)).checkpoint.size == 18
            assert (await check_once(http, lax)).checkpoint.size == 18
            view.showing = "b"
            # Branch b has no quorum, yet the log signed it and it does not extend what
            # either client saw: evidence (exit 3) whether the client checks the quorum
            # or not (SPEC §8), and neither accepts it.
            for settings in (strict, lax):
                with pytest.raises(Evidence) as caught:
                    await check_once(http, settings)
                assert caught.value.kind == "bad-proof"  # 21 leaves that do not extend 18
                previous = caught.value.previous
                assert previous and previous.startswith(honest.checkpoint(18).split("\n\n")[0])
                assert caught.value.current == b.note
                assert parse_checkpoint(read_state(settings.state) or "").size == 18
            b.note = forked.checkpoint(18)  # the same size, another root
            with pytest.raises(Evidence) as caught:
                await check_once(http, lax)
            assert caught.value.kind == "fork"
    finally:
        await publisher_a.aclose()
        await publisher_b.aclose()
