"""R15: hostile peers, as real HTTP servers on 127.0.0.1 (`tests.hostile`).

- A fake log for `docket monitor`, run as its own process (the `docket` command) with its
  peak resident memory (VmHWM) read from /proc while it runs: checkpoints and proofs of
  1 GB (generated on the fly, never held), endless trickles, a redirect to another host,
  malformed answers and 5,000-digit numbers, a log-signed checkpoint that does not parse.
  The monitor exits 1 (cannot check) or 3 (evidence) as SPEC §8 says, within its
  `--timeout`, and its memory stays within 100 MB of what an honest log costs it.
- Fake witnesses for the log, the service running in this process (uvicorn in a thread,
  on each backend): a witness answering 1 GB, one trickling forever, one redirecting, one
  answering a 5,000-digit size and one a Content-Length of 1 GB. The log keeps appending
  and publishes with its honest witness; this process's memory stays within 100 MB of
  where it stood before the witnesses were asked.

Figures (peak growth, durations) are printed: `pytest -s` shows them (docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import parse_checkpoint, split_note
from events.cosignature import Cosigner, add_signature_lines
from events.witnessing import WitnessConfig
from service.monitor.monitor import evidence_file, write_state
from service.platform.keys import generate_key_file
from tests.hostile import GIGABYTE, HostileServer, Reply, always, endless, hostile_server, huge
from tests.published.harness import DOCKET, docket_settings, running_docket, wait_for
from tests.witness.logs import FakeLog
from tests.witness.servers import serve, witness_app

pytestmark = pytest.mark.timeout(60)

MB = 1024 * 1024
BOUND = 100 * MB  # R15: memory stays within 100 MB of its start
KILL_AT = 400 * MB  # a monitor past this is stopped: the test fails without eating the host
TIMEOUT = 2.0  # the monitor's --timeout in these tests
FIGURES: list[str] = []


def rss(pid: int | str, field: str = "VmHWM") -> int | None:
    """`field` of /proc/<pid>/status in bytes; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


@dataclass
class Run:
    code: int
    out: str
    err: str
    peak: int
    seconds: float


def run_monitor(*args: str, limit: float = 45) -> Run:
    """`docket monitor ARGS` as a process; its peak resident memory read while it runs."""
    started = time.monotonic()
    process = subprocess.Popen(
        [DOCKET, "monitor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            value = rss(process.pid)
            if value is None:
                return
            peak[0] = max(peak[0], value)
            if value > KILL_AT:
                process.kill()
                return
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"docket monitor {' '.join(args)} hung past {limit} s")
    sampler.join()
    return Run(process.returncode, out, err, peak[0], time.monotonic() - started)


class FakeLogPeer:
    """What a fake log publishes: notes from a real `FakeLog`, cosigned by two witnesses."""

    def __init__(self) -> None:
        self.log = FakeLog().grow(150)
        self.witnesses = [Cosigner(f"w{i}.example/w", Ed25519PrivateKey.generate()) for i in (1, 2)]

    def note(self, size: int) -> str:
        note = self.log.checkpoint(size)
        text, _ = split_note(note)
        return add_signature_lines(note, [w.cosign(text, 1_767_225_600) for w in self.witnesses])

    def unparseable(self) -> str:
        """A note the log key signed whose tree size has 5,000 digits."""
        root = self.log.checkpoint(100).split("\n")[2]
        return self.log.signer.sign_note(f"{self.log.origin}\n{'9' * 5000}\n{root}\n")

    def proof(self, old: int, new: int) -> bytes:
        hashes = [h.hex() for h in self.log.proof(old, new)]
        roots = {"root_from": self.log.root(old).hex(), "root_to": self.log.root(new).hex()}
        return json.dumps({"from": old, "to": new, **roots, "proof": hashes}).encode()

    def args(self, url: str, state: Path, *more: str) -> list[str]:
        args = [url, "--log-key", self.log.vkey(), "--state", str(state), "--quorum", "2"]
        for witness in self.witnesses:
            args += ["--witness", witness.verifier_key()]
        return [*args, "--timeout", str(TIMEOUT), *more]

    def holding(self, state: Path, size: int = 100) -> Path:
        """`state` as a monitor leaves it after seeing `size`."""
        write_state(state, "http://log.example", self.note(size))
        return state


@pytest.fixture(scope="module")
def peer() -> FakeLogPeer:
    return FakeLogPeer()


@pytest.fixture(scope="module")
def honest_peak(peer: FakeLogPeer, tmp_path_factory: pytest.TempPathFactory) -> int:
    """What the monitor's memory peaks at against an honest log (a first check, then one
    with a consistency proof): the start that R15's 100 MB are counted from."""
    state = tmp_path_factory.mktemp("honest") / "state.json"
    size = [100]

    def route(method: str, target: str, body: bytes) -> Reply:
        if target.startswith("/public/log/checkpoint"):
            return Reply(body=peer.note(size[0]).encode())
        return Reply(body=peer.proof(100, 150), content_type="application/json")

    with hostile_server(route) as server:
        first = run_monitor(*peer.args(server.url, state))
        size[0] = 150
        second = run_monitor(*peer.args(server.url, state))
    assert first.code == 0 and second.code == 0, (first.err, second.err)
    assert "extends size 100" in second.out
    peak = max(first.peak, second.peak)
    FIGURES.append(f"monitor, honest log: peak RSS {peak / MB:.0f} MB, {second.seconds:.1f} s")
    return peak


def within_bound(run: Run, honest_peak: int, what: str) -> None:
    growth = run.peak - honest_peak
    FIGURES.append(f"monitor, {what}: exit {run.code}, {growth / MB:+.1f} MB, {run.seconds:.1f} s")
    assert growth <= BOUND, f"{what}: {growth / MB:.0f} MB over an honest run"
    assert "Traceback" not in run.out + run.err


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    print("\nR15 figures:\n  " + "\n  ".join(FIGURES))


class TestMonitorAgainstAHostileLog:
    def test_a_gigabyte_checkpoint_is_read_to_1_mib(
        self, peer: FakeLogPeer, honest_peak: int, tmp_path: Path
    ) -> None:
        with hostile_server(always(Reply(stream=huge()))) as server:
            run = run_monitor(*peer.args(server.url, tmp_path / "state.json"))
        within_bound(run, honest_peak, "1 GB checkpoint")
        assert run.code == 1 and "cannot check" in run.err and "over 1 MiB" in run.err
        assert server.sent < 100 * MB  # it hung up; the gigabyte was never sent

    def test_a_declared_gigabyte_is_refused_before_its_body(
        self, peer: FakeLogPeer, honest_peak: int, tmp_path: Path
    ) -> None:
        reply = Reply(stream=huge(), headers={"Content-Length": str(GIGABYTE)})
        with hostile_server(always(reply)) as server:
            run = run_monitor(*peer.args(server.url, tmp_path / "state.json"))
        within_bound(run, honest_peak, "Content-Length: 1 GB")
        assert run.code == 1 and "over 1 MiB (Content-Length)" in run.err

    def test_an_endless_checkpoint_ends_at_the_timeout(
        self, peer: FakeLogPeer, honest_peak: int, tmp_path: Path
    ) -> None:
        with hostile_server(always(Reply(stream=endless(every=0.05)))) as server:
            run = run_monitor(*peer.args(server.url, tmp_path / "state.json"))
        within_bound(run, honest_peak, "endless checkpoint")
        assert run.code == 1 and f"no complete answer within {TIMEOUT} s" in run.err
        assert run.seconds < TIMEOUT + 10  # the process's start-up and the deadline

    def test_no_redirect_to_another_host(
        self, peer: FakeLogPeer, honest_peak: int, tmp_path: Path
    ) -> None:
        with hostile_server(always(Reply(body=peer.note(100).encode()))) as elsewhere:
            moved = Reply(
                status=302, headers={"Location": elsewhere.url + "/public/log/checkpoint"}
            )
            with hostile_server(always(moved)) as server:
                run = run_monitor(*peer.args(server.url, tmp_path / "state.json"))
        within_bound(run, honest_peak, "redirect to another host")
        assert run.code == 1 and "redirect to another host is not followed" in run.err
        assert elsewhere.requests == []

    def test_a_gigabyte_proof_is_read_to_1_mib(
        self, peer: FakeLogPeer, honest_peak: int, tmp_path: Path
    ) -> None:
        state = peer.holding(tmp_path / "state.json")
        seen = state.read_text()

        def route(method: str, target: str, body: bytes) -> Reply:
            if target.startswith("/public/log/checkpoint"):
                return Reply(body=peer.note(150).encode())
            return Reply(stream=huge(), content_type="application/json")

        with hostile_server(route) as server:
            run = run_monitor(*peer.args(server.url, state))
        within_bound(run, honest_peak, "1 GB consistency proof")
        assert run.code == 1 and "over 1 MiB" in run.err
        assert state.read_text() == seen

    def test_follow_through_hostile_answers_to_a_signed_unparseable_checkpoint(
        self, peer: FakeLogPeer, honest_peak: int, tmp_path: Path
    ) -> None:
        # One `--follow` run through every kind of hostile answer: each check is "not
        # checked", the third in a row raises the alarm, none ends the command; the
        # log-signed note with a 5,000-digit size does (evidence, exit 3). The webhook
        # answers a gigabyte: its post is bounded too.
        state = peer.holding(tmp_path / "state.json")
        proofs: dict[int, Reply] = {
            1: Reply(stream=huge()),
            2: Reply(body=b'{"from": ' + b"9" * 5000 + b', "to": 150, "proof": []}'),
            3: Reply(body=b'{"from": 100, "to": 150, "proof": {"not": "hex"}}'),
        }
        checkpoints: dict[int, Reply] = {
            4: Reply(stream=huge()),
            5: Reply(stream=endless(every=0.05)),
            6: Reply(body=b"\xff\xfe not even UTF-8"),
            7: Reply(body=peer.unparseable().encode()),
        }
        count = [0]

        def route(method: str, target: str, body: bytes) -> Reply:
            if method == "POST":
                return Reply(stream=huge())
            if target.startswith("/public/log/checkpoint"):
                count[0] += 1
                return checkpoints.get(count[0], Reply(body=peer.note(150).encode()))
            return proofs[count[0]]

        with hostile_server(route) as server:
            run = run_monitor(
                *peer.args(server.url, state, "--follow", "--interval", "0.05"),
                "--alarm-after",
                "3",
                "--webhook",
                server.url + "/webhook",
            )
        within_bound(run, honest_peak, "--follow through hostile answers")
        assert run.code == 3, run.out + run.err
        lines = run.out.splitlines()
        assert sum("not checked" in line for line in lines) == 6, run.out
        assert [line for line in lines if line.startswith("ALARM")] == [
            next(line for line in lines if line.startswith("ALARM: 3 checks in a row"))
        ]
        assert "EVIDENCE (unparseable)" in run.out
        [kept] = [json.loads(line) for line in evidence_file(state).read_text().splitlines()]
        assert kept["kind"] == "unparseable"
        assert kept["current_checkpoint"] == peer.unparseable()
        assert parse_checkpoint(kept["previous_checkpoint"]).size == 100
        posted = [json.loads(body) for body in server.bodies if body]
        assert [p["kind"] for p in posted] == ["cannot-check", "unparseable"]
        assert "warning: webhook" in run.err and "over 64 KiB" in run.err
        assert server.sent < 500 * MB


def memory_watch(stop: threading.Event, peak: list[int]) -> Callable[[], None]:
    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss("self", "VmRSS") or 0)
            time.sleep(0.005)

    return watch


def test_the_log_keeps_appending_while_its_witnesses_misbehave(
    database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "log.key"
    log_vkey = generate_key_file(key_file, "docket.example.org/log")
    names = ["huge", "endless", "redirect", "digits", "declared"]
    cosigners = {
        name: Cosigner(f"{name}.hostile.example/w", Ed25519PrivateKey.generate()) for name in names
    }
    honest_app, honest = witness_app("honest.ngo.example/w", [log_vkey], tmp_path / "w.db")
    with (
        serve(honest_app) as honest_url,
        hostile_server(always(Reply(stream=huge()))) as huge_server,
        hostile_server(always(Reply(stream=endless(every=0.05)))) as endless_server,
        hostile_server(
            always(Reply(status=307, headers={"Location": honest_url + "/add-checkpoint"}))
        ) as redirect_server,
        hostile_server(
            always(Reply(status=409, body=b"9" * 5000, content_type="text/x.tlog.size"))
        ) as digits_server,
        hostile_server(
            always(Reply(stream=huge(), headers={"Content-Length": str(GIGABYTE)}))
        ) as declared_server,
    ):
        servers: dict[str, HostileServer] = {
            "huge": huge_server,
            "endless": endless_server,
            "redirect": redirect_server,
            "digits": digits_server,
            "declared": declared_server,
        }
        configs = [WitnessConfig(servers[n].url, cosigners[n].verifier_key()) for n in names]
        configs.append(WitnessConfig(honest_url, honest.verifier_key()))
        settings = docket_settings(
            database_url,
            key_file,
            configs,
            1,
            witness_timeout_seconds=1.0,
            witness_retry_seconds=0.3,
        )
        with running_docket(settings) as docket:
            docket.submit(2)
            start = rss("self", "VmRSS") or 0
            stop, peak = threading.Event(), [start]
            watcher = threading.Thread(target=memory_watch(stop, peak), daemon=True)
            watcher.start()
            started = time.monotonic()
            try:
                # Each new checkpoint is submitted to every witness that has not cosigned
                # it: appends go on until each hostile witness was asked three times.
                latencies: list[float] = []
                deadline = time.monotonic() + 40
                while not all(len(s.requests) >= 3 for s in servers.values()):
                    assert time.monotonic() < deadline, {n: s.requests for n, s in servers.items()}
                    latencies += docket.submit(2)
                    time.sleep(0.25)
                head = 2 + len(latencies)

                def published_at_head() -> str | None:
                    note = docket.published_note()
                    return note if note and parse_checkpoint(note).size == head else None

                note = wait_for(published_at_head, "publication with the honest witness", 40)
            finally:
                stop.set()
                watcher.join()
            seconds = time.monotonic() - started
            errors = {
                s.name: s.last_error or "" for s in docket.app.state.runtime.cosigning.status()
            }
        growth = peak[0] - start
        FIGURES.append(
            f"log ({database_url.split(':')[0]}), 5 hostile witnesses: {growth / MB:+.1f} MB, "
            f"{len(latencies)} appends (slowest {max(latencies) * 1000:.0f} ms), {seconds:.1f} s"
        )
        print(FIGURES[-1])
        assert growth <= BOUND, f"{growth / MB:.0f} MB more while witnesses answered"
        assert max(latencies) < 1.0, latencies  # no append waits for a witness
        assert honest.name in note
        expected = {
            "huge": "over 64 KiB",
            "endless": "within 1.0 s",
            "redirect": "HTTP 307",
            "digits": "not a text/x.tlog.size answer",
            "declared": "over 64 KiB (Content-Length)",
        }
        for name, reason in expected.items():
            assert reason in errors[cosigners[name].name], (name, errors)
            per_request = servers[name].sent / len(servers[name].requests)
            assert per_request < 10 * MB, (name, per_request)
