"""`docket monitor` against a fake Docket (a stdlib HTTP server serving the public log
paths and shapes the service will answer) and a webhook that records the evidence."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey
from typer.testing import CliRunner

from events.checkpoints import Signer, split_note
from events.cosignature import Cosigner, add_signature_lines
from events.tiles import parse_tile_path, tile_at, tile_bytes
from service.cli import app
from service.monitor.monitor import evidence_file
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
    # The view by checkpoint request number (from 1), in place of view/switch_after/later.
    schedule: Callable[[int], View] | None = None
    # Served as is in place of the consistency proof, or of the checkpoint.
    proof_body: bytes | None = None
    note: str | None = None
    # What the fake witness at /w serves as its latest cosigned checkpoint of the log.
    witness_note: str | None = None

    def current(self) -> View:
        if self.schedule is not None:
            return self.schedule(self.checkpoint_requests)
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
                text = (docket.note or docket.current().checkpoint()).encode()
                self.answer(200, text, "text/plain; charset=utf-8")
                return
            if url.path.startswith("/w/") and url.path.endswith("/checkpoint"):
                origin_hash = hashlib.sha256(docket.view.log.origin.encode()).hexdigest()
                if docket.witness_note is None or url.path != f"/w/{origin_hash}/checkpoint":
                    self.answer(404, b"never cosigned", "text/plain")
                else:
                    self.answer(200, docket.witness_note.encode(), "text/plain; charset=utf-8")
                return
            view = docket.current()
            if url.path == "/public/log/proofs/consistency" and docket.proof_body is not None:
                self.answer(200, docket.proof_body, "application/json")
                return
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

    @pytest.mark.parametrize("size", [100, 99, 160])
    def test_a_log_signed_inconsistency_is_evidence_without_its_quorum(
        self,
        size: int,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        # SPEC §8: the log's signature on a fork is evidence whatever the witnesses did.
        state = tmp_path / "state.json"
        assert run(url, log, witnesses, state).exit_code == 0
        fork = FakeLog(log.key, salt=b"other").grow(size)
        docket.view = View(fork, size, witnesses[:1])  # one cosignature; the quorum is 2
        result = run(url, log, witnesses, state, "--webhook", f"{url}/webhook")
        assert result.exit_code == 3, result.output
        kind = {100: "fork", 99: "rollback", 160: "bad-proof"}[size]
        assert f"EVIDENCE ({kind})" in result.output
        assert [e["kind"] for e in docket.evidence] == [kind]
        [kept] = [json.loads(line) for line in evidence_file(state).read_text().splitlines()]
        assert kept["current_checkpoint"] == docket.view.checkpoint()

    def test_a_log_signed_checkpoint_that_does_not_parse_is_kept_as_evidence(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        state = tmp_path / "state.json"
        assert run(url, log, witnesses, state).exit_code == 0
        root = log.checkpoint(100).split("\n")[2]
        docket.note = Signer(log.origin, log.key).sign_note(f"{log.origin}\n{'9' * 5000}\n{root}\n")
        result = run(url, log, witnesses, state, "--webhook", f"{url}/webhook")
        assert result.exit_code == 3, result.output
        assert "EVIDENCE (unparseable)" in result.output
        assert "Traceback" not in result.output
        [posted] = docket.evidence
        assert posted["kind"] == "unparseable" and posted["current_checkpoint"] == docket.note
        [kept] = [json.loads(line) for line in evidence_file(state).read_text().splitlines()]
        assert kept["current_checkpoint"] == docket.note
        assert kept["previous_checkpoint"] == json.loads(state.read_text())["checkpoint"]

    def test_a_note_not_signed_by_the_log_is_not_evidence(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        root = log.checkpoint(100).split("\n")[2]
        docket.note = FakeLog().signer.sign_note(f"{log.origin}\n{'9' * 5000}\n{root}\n")
        result = run(url, log, witnesses, tmp_path / "state.json")
        assert result.exit_code == 1 and "no valid signature by" in result.output
        assert not evidence_file(tmp_path / "state.json").exists()


def _answer(proof: bytes) -> bytes:
    """A consistency proof answer for 100 -> 150, well formed but for its `proof`."""
    roots = f'"root_from": "{"a" * 64}", "root_to": "{"b" * 64}"'.encode()
    return b'{"from": 100, "to": 150, ' + roots + b', "proof": ' + proof + b"}"


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

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (_answer(b'["zz"]'), "proof hash 1 is not 64 lowercase hex digits"),
            (_answer(b"7"), "'proof' is not a list"),
            (_answer(b'{"ab": "cd"}'), "'proof' is not a list"),
            (_answer(b'["' + b"ab" * 31 + b'"]'), "64 lowercase hex"),
            (b'{"from": 100, "to": 150, "root_from": 7, "proof": []}', "'root_from' is not"),
            (b"[" * 100_000, "not JSON"),
            (b"12", "not an object"),
            (b'{"from": ' + b"9" * 5000 + b', "to": 150, "proof": []}', "not JSON"),
            (b'{"from": 1' + b"0" * 3000 + b', "to": 150, "proof": []}', "more than 20 digits"),
            (b'{"from": true, "to": 150, "proof": []}', "'from' is not an integer"),
        ],
    )
    def test_a_malformed_proof_answer_cannot_be_checked(
        self,
        body: bytes,
        reason: str,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        state = tmp_path / "state.json"
        assert run(url, log, witnesses, state).exit_code == 0
        seen = state.read_text()
        docket.view = View(log, 150, witnesses[:2])
        docket.proof_body = body
        result = run(url, log, witnesses, state, "--webhook", f"{url}/webhook")
        assert result.exit_code == 1, result.output
        assert "error: cannot check:" in result.output and reason in result.output
        assert isinstance(result.exception, SystemExit)  # no traceback
        assert state.read_text() == seen and docket.evidence == []

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

    def test_malformed_answers_in_follow_alarm_and_keep_following(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        fork = View(FakeLog(log.key, salt=b"other").grow(100), 100, witnesses[:1])
        docket.schedule = lambda n: (
            View(log, 100, witnesses[:2])
            if n == 1
            else View(log, 150, witnesses)
            if n < 8
            else fork
        )
        docket.proof_body = b'{"from": ' + b"9" * 5000 + b', "to": 150, "proof": []}'
        state = tmp_path / "state.json"
        result = run(
            url,
            log,
            witnesses,
            state,
            "--follow",
            "--interval",
            "0.01",
            "--alarm-after",
            "3",
            "--webhook",
            f"{url}/webhook",
        )
        assert result.exit_code == 3, result.output
        assert "Traceback" not in result.output
        lines = result.output.splitlines()
        assert "first seen" in lines[0] and "not checked" in lines[1]
        [alarm] = [line for line in lines if line.startswith("ALARM")]
        assert "3 checks in a row" in alarm
        assert any(line.startswith("EVIDENCE (fork)") for line in lines)
        assert docket.checkpoint_requests == 8
        assert [e["kind"] for e in docket.evidence] == ["cannot-check", "fork"]


class TestPolicy:
    """`--policy FILE` (a C2SP tlog-policy) in place of the key options."""

    def test_a_policy_with_groups_decides_the_quorum(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        w0, w1, w2 = (w.verifier_key() for w in witnesses)
        policy = tmp_path / "policy"
        state = tmp_path / "state.json"
        base = ["monitor", url, "--policy", str(policy), "--state", str(state)]
        # w0 and w1 cosigned: "all of w0, w2" is not met, "any of w0, w2" is
        for threshold, code in (("all", 1), ("any", 0)):
            policy.write_text(
                f"log {log.vkey()}\nwitness a {w0}\nwitness b {w1}\nwitness c {w2}\n"
                f"group g {threshold} a c\nquorum g\n"
            )
            result = CliRunner().invoke(app, base)
            assert result.exit_code == code, result.output
        policy.write_text(f"log {log.vkey()}\nwitness a {w0}\nwitness b {w0}\nquorum a\n")
        result = CliRunner().invoke(app, base)
        assert result.exit_code == 1 and "listed already" in result.output


class TestWitnessRetrieval:
    """`--witness-url`: each witness's own latest cosigned checkpoint against the log's."""

    def test_a_fork_shown_only_to_the_monitor_is_caught_on_its_first_run(
        self,
        url: str,
        docket: FakeDocket,
        log: FakeLog,
        witnesses: list[Cosigner],
        tmp_path: Path,
    ) -> None:
        state = tmp_path / "state.json"
        # the witness saw the honest tree, a little larger: consistent, ok
        docket.witness_note = View(log, 120, witnesses[:1]).checkpoint()
        ok = run(url, log, witnesses, tmp_path / "ok.json", "--witness-url", f"{url}/w")
        assert ok.exit_code == 0, ok.output
        # the monitor is shown another tree (same log key), the witness the honest one
        fork = FakeLog(log.key, salt=b"other").grow(100)
        docket.view = View(fork, 100, witnesses[:2])
        docket.witness_note = View(log, 100, witnesses[:1]).checkpoint()
        result = run(url, log, witnesses, state, "--witness-url", f"{url}/w")
        assert result.exit_code == 3, result.output
        assert "EVIDENCE (fork)" in result.output
        # a witness that never cosigned the log: the check cannot be made
        docket.witness_note = None
        docket.view = View(log, 100, witnesses[:2])
        missing = run(url, log, witnesses, tmp_path / "m.json", "--witness-url", f"{url}/w")
        assert missing.exit_code == 1 and "404" in missing.output


class TestMlDsa:
    """`docket monitor` with the log's ML-DSA-44 vkey and ML-DSA-44 witnesses (SPEC §8)."""

    def test_an_ml_dsa_log_key_and_witnesses_then_a_fork(
        self, url: str, docket: FakeDocket, log: FakeLog, tmp_path: Path
    ) -> None:
        mldsa = MLDSA44PrivateKey.generate()
        log.signer = Signer(log.origin, log.key, mldsa)
        pq = [Cosigner(f"pq{i}.example/w", MLDSA44PrivateKey.generate()) for i in range(2)]
        ed = Cosigner("ed.example/w", Ed25519PrivateKey.generate())
        docket.view = View(log, 100, [pq[0], ed])
        ml_vkey = log.signer.verifier_keys()[1]
        state = tmp_path / "state.json"

        def monitor(*extra: str) -> Any:
            args = ["monitor", url, "--log-key", ml_vkey, "--state", str(state)]
            for witness in [*pq, ed]:
                args += ["--witness", witness.verifier_key()]
            return CliRunner().invoke(app, [*args, *extra])

        first = monitor("--quorum", "2")
        assert first.exit_code == 0, first.output
        assert "size 100" in first.output
        # one ML-DSA-44 witness's two lines count once
        docket.view = View(log, 101, [pq[0], pq[0]])
        short = monitor("--quorum", "2")
        assert short.exit_code == 1 and "quorum is 2" in short.output
        fork = FakeLog(log.key, salt=b"other").grow(100)
        fork.signer = Signer(log.origin, log.key, mldsa)
        docket.view = View(fork, 100, pq)
        forked = monitor("--quorum", "2")
        assert forked.exit_code == 3 and "EVIDENCE (fork)" in forked.output
