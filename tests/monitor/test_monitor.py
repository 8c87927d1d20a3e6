"""`docket monitor` against a fake Docket (a stdlib HTTP server serving the public log
paths and shapes the service will answer) and a webhook that records the evidence."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from events.checkpoints import split_note
from events.cosignature import Cosigner, add_signature_lines
from events.tiles import parse_tile_path, tile_at, tile_bytes
from service.cli import app
from tests.witness.logs import FakeLog


@dataclass
class View:
    """What the fake Docket publishes: a log at a size, cosigned by some witnesses."""

    log: FakeLog
    size: int
    cosigners: list[Cosigner]

    def checkpoint(self) -> str:
        note = self.log.checkpoint(self.size)
        text, _ = split_note(note)
        return add_signature_lines(note, [c.cosign(text, 1_767_225_600) for c in self.cosigners])


@dataclass
class FakeDocket:
    view: View
    # After this many checkpoint requests, publish `later` instead.
    switch_after: int | None = None
    later: View | None = None
    failures: int = 0  # checkpoint requests to answer 503 first
    checkpoint_requests: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def current(self) -> View:
        if self.switch_after is not None and self.checkpoint_requests > self.switch_after:
            assert self.later is not None
            return self.later
        return self.view


def handler_for(docket: FakeDocket) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/public/log/checkpoint":
                docket.checkpoint_requests += 1
                if docket.failures:
                    docket.failures -= 1
                    self.answer(503, b"busy", "text/plain")
                    return
                text = docket.current().checkpoint().encode()
                self.answer(200, text, "text/plain; charset=utf-8")
                return
            view = docket.current()
            if url.path == "/public/log/proofs/consistency":
                query = parse_qs(url.query)
                old, new = int(query["from"][0]), int(query["to"][0])
                body = {
                    "from": old,
                    "to": new,
                    "root_from": view.log.root(old).hex(),
                    "root_to": view.log.root(new).hex(),
                    "proof": [h.hex() for h in view.log.proof(old, new)],
                }
                self.answer(200, json.dumps(body).encode(), "application/json")
                return
            if url.path.startswith("/public/log/tile/"):
                tile = parse_tile_path(url.path.removeprefix("/public/log/"))
                if tile_at(tile.level, tile.index, view.size) != tile:
                    self.answer(404, b"no such tile", "text/plain")
                    return
                data = tile_bytes(tile, lambda level, index: view.log.nodes[(level, index)])
                self.answer(200, data, "application/octet-stream")
                return
            self.answer(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            docket.evidence.append(json.loads(self.rfile.read(length)))
            self.answer(204, b"", "text/plain")

    return Handler


@pytest.fixture
def witnesses() -> list[Cosigner]:
    return [Cosigner(f"w{i}.example/w", Ed25519PrivateKey.generate()) for i in range(3)]


@pytest.fixture
def log() -> FakeLog:
    return FakeLog().grow(300)


@pytest.fixture
def docket(log: FakeLog, witnesses: list[Cosigner]) -> FakeDocket:
    return FakeDocket(View(log, 100, witnesses[:2]))


@pytest.fixture
def url(docket: FakeDocket) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(docket))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


def run(url: str, log: FakeLog, witnesses: list[Cosigner], state: Path, *extra: str) -> Any:
    args = ["monitor", url, "--log-key", log.vkey(), "--state", str(state)]
    for witness in witnesses:
        args += ["--witness", witness.verifier_key()]
    return CliRunner().invoke(app, [*args, "--quorum", "2", *extra])


class TestConsistentLog:
    @pytest.mark.parametrize("via", ["proofs", "tiles"])
    def test_first_unchanged_and_grown(
        self,
        via: str,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        state = tmp_path / "state.json"
        first = run(url, log, witnesses, state, "--via", via)
        assert first.exit_code == 0, first.output
        assert "size 100" in first.output and "first seen" in first.output
        assert json.loads(state.read_text())["checkpoint"].startswith(log.origin + "\n100\n")
        again = run(url, log, witnesses, state, "--via", via)
        assert again.exit_code == 0 and "unchanged" in again.output
        for size in (101, 256, 257, 300):
            docket.view = View(log, size, witnesses[1:])
            grown = run(url, log, witnesses, state, "--via", via)
            assert grown.exit_code == 0, grown.output
            assert f"size {size}" in grown.output and "extends size" in grown.output
        assert docket.evidence == []


class TestEvidence:
    def test_a_fork_at_the_same_size(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        state = tmp_path / "state.json"
        assert run(url, log, witnesses, state).exit_code == 0
        seen = state.read_text()
        fork = FakeLog(log.key, salt=b"other").grow(
            100
        )  # same key, other leaves: another root at 100
        docket.view = View(fork, 100, witnesses[:2])
        result = run(url, log, witnesses, state, "--webhook", f"{url}/webhook")
        assert result.exit_code == 3, result.output
        assert "EVIDENCE (fork)" in result.output
        assert log.checkpoint(100).split("\n\n")[0] in result.output  # the note seen before
        assert fork.checkpoint(100).split("\n\n")[0] in result.output
        assert state.read_text() == seen
        [posted] = docket.evidence
        assert posted["kind"] == "fork" and posted["log"] == url
        assert posted["previous_checkpoint"] == json.loads(seen)["checkpoint"]
        assert posted["current_checkpoint"].startswith(fork.checkpoint(100).split("\n\n")[0])

    def test_a_rollback(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        state = tmp_path / "state.json"
        assert run(url, log, witnesses, state).exit_code == 0
        docket.view = View(log, 99, witnesses[:2])
        result = run(url, log, witnesses, state, "--webhook", f"{url}/webhook")
        assert result.exit_code == 3 and "EVIDENCE (rollback)" in result.output
        assert [e["kind"] for e in docket.evidence] == ["rollback"]

    @pytest.mark.parametrize("via", ["proofs", "tiles"])
    def test_a_fork_that_grew(
        self,
        via: str,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        # R9: two databases under one key share the first 100 leaves, then diverge.
        state = tmp_path / "state.json"
        shared = FakeLog(log.key, salt=b"other").grow(100)
        branch = shared.fork()
        shared.grow(50)
        branch.grow(60)
        docket.view = View(shared, 150, witnesses[:2])
        assert run(url, log, witnesses, state, "--via", via).exit_code == 0
        docket.view = View(branch, 160, witnesses[:2])
        result = run(url, log, witnesses, state, "--via", via, "--webhook", f"{url}/webhook")
        assert result.exit_code == 3, result.output
        assert "EVIDENCE (bad-proof)" in result.output
        assert [e["kind"] for e in docket.evidence] == ["bad-proof"]


class TestCannotCheck:
    def test_no_quorum_is_not_evidence(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        docket.view = View(log, 100, witnesses[:1])
        result = run(url, log, witnesses, tmp_path / "state.json")
        assert result.exit_code == 1
        assert "quorum is 2" in result.output
        assert not (tmp_path / "state.json").exists()

    def test_another_log_key(self, url: str, witnesses: list[Cosigner], tmp_path: Path) -> None:
        result = run(url, FakeLog(), witnesses, tmp_path / "state.json")
        assert result.exit_code == 1 and "does not verify" in result.output

    def test_unreachable(self, log: FakeLog, witnesses: list[Cosigner], tmp_path: Path) -> None:
        result = run("http://127.0.0.1:9", log, witnesses, tmp_path / "state.json")
        assert result.exit_code == 1 and "error:" in result.output

    def test_bad_arguments(self, url: str, log: FakeLog, tmp_path: Path) -> None:
        state = tmp_path / "s.json"
        assert run(url, log, [], state, "--witness", log.vkey()).exit_code == 1
        assert run(url, FakeLog(), [], state, "--quorum", "1").exit_code == 1


class TestFollow:
    def test_follows_until_a_fork(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        docket.failures = 1
        docket.switch_after = 4
        docket.later = View(FakeLog(log.key, salt=b"other").grow(100), 100, witnesses[:2])
        state = tmp_path / "state.json"
        result = run(
            url,
            log,
            witnesses,
            state,
            "--follow",
            "--interval",
            "0.01",
            "--webhook",
            f"{url}/webhook",
        )
        assert result.exit_code == 3, result.output
        lines = result.output.splitlines()
        assert "not checked" in lines[0] and "503" in lines[0]
        assert "ok:" in lines[1] and "first seen" in lines[1]
        assert any("unchanged" in line for line in lines)
        assert any(line.startswith("EVIDENCE (fork)") for line in lines)
        assert docket.checkpoint_requests == 5
        assert [e["kind"] for e in docket.evidence] == ["fork"]
