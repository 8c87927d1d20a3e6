"""R10: witnesses down, slow or answering garbage while commands run. Commands are not
slowed (each answers well within the witness timeout), nothing is published without the
quorum, and publication resumes by itself once the witnesses are back."""

from __future__ import annotations

import socket
import statistics
import threading
from pathlib import Path

from events.checkpoints import parse_checkpoint
from events.cosignature import parse_cosigner_key, verify_witnessed
from service.platform.keys import generate_key_file
from tests.published.harness import docket_settings, running_docket, wait_for, witness_processes
from tests.witness.servers import garbage_app, serve, slow_app

ORIGIN = "docket.example.org/log"
TIMEOUT = 5.0


def socket_on(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def test_misbehaving_witnesses_never_slow_commands_and_publication_resumes(
    database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "log.key"
    log_vkey = generate_key_file(key_file, ORIGIN)
    with witness_processes(tmp_path, log_vkey, start=False) as witnesses:
        down, slow, garbage = witnesses
        keys = [parse_cosigner_key(w.vkey) for w in witnesses]
        settings = docket_settings(
            database_url,
            key_file,
            [w.config() for w in witnesses],
            2,
            witness_timeout_seconds=TIMEOUT,
        )
        release = threading.Event()
        with running_docket(settings) as docket:
            with (
                serve(slow_app(release), socket_on(slow.port)),
                serve(garbage_app(), socket_on(garbage.port)),
            ):
                try:
                    latencies = docket.submit(40)
                    # Each command answers in far less than one witness timeout: no command
                    # waits for a witness (they are submitted to in a task of their own).
                    assert max(latencies) < TIMEOUT / 2, latencies
                    assert statistics.median(latencies) < 1.0, latencies
                    cosigning = docket.app.state.runtime.cosigning

                    def each_witness_failed_its_own_way() -> dict[str, str] | None:
                        # a round may first meet a server still starting (a connect or
                        # read error): wait for each one's own failure
                        errors = {s.name: s.last_error or "" for s in cosigning.status()}
                        expected = {
                            down.name: "Connect",
                            slow.name: f"within {TIMEOUT} s",
                            garbage.name: "not signature lines",
                        }
                        met = all(want in errors.get(n, "") for n, want in expected.items())
                        return errors if met else None

                    wait_for(each_witness_failed_its_own_way, "each witness's own failure", 60)
                    assert docket.published_note() is None  # no quorum, nothing published
                    assert docket.get("/public/log/tile/0/000.p/1").status_code == 404
                    # Reads are unaffected too.
                    assert docket.get("/public/log/witnesses").status_code == 200
                finally:
                    release.set()  # else the slow witness's thread holds the test forever
            # The witnesses come back, at the same URLs.
            for witness in witnesses:
                witness.start()
            head = 40

            def published_at_head() -> str | None:
                note = docket.published_note()
                return note if note and parse_checkpoint(note).size == head else None

            note = wait_for(published_at_head, "publication to resume", 60)
            checkpoint, valid = verify_witnessed(note, log_vkey, keys, 2)
            assert checkpoint.size == head and len(valid) >= 2
            docket.submit(5)
            head = 45
            note = wait_for(published_at_head, "the next checkpoint to be published", 60)
            assert len(verify_witnessed(note, log_vkey, keys, 3)[1]) == 3
