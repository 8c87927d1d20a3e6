"""`docket witness key` and `docket witness serve`, run as an operator would."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from events.checkpoints import load_or_create_signing_key, load_private_key, split_note
from events.cosignature import Cosigner, parse_cosigner_key, verify_cosignature_line
from events.witnessing import WitnessConfig, WitnessPublisher
from service.cli import app
from tests.witness.logs import FakeLog

DOCKET = str(Path(sys.executable).with_name("docket"))


class TestKey:
    def test_creates_a_private_key_and_prints_its_vkey(self, tmp_path: Path) -> None:
        file = tmp_path / "keys" / "witness.pem"
        result = CliRunner().invoke(app, ["witness", "key", str(file), "--name", "w.example/1"])
        assert result.exit_code == 0, result.output
        vkey = result.stdout.strip()
        key = parse_cosigner_key(vkey)
        assert key.name == "w.example/1"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        private = load_or_create_signing_key(file, create=False)
        assert Cosigner("w.example/1", private).verifier_key() == vkey

    def test_never_overwrites(self, tmp_path: Path) -> None:
        file = tmp_path / "witness.pem"
        file.write_text("precious")
        result = CliRunner().invoke(app, ["witness", "key", str(file), "--name", "w.example/1"])
        assert result.exit_code == 1 and "never overwritten" in result.output
        assert file.read_text() == "precious"

    def test_a_bad_name_leaves_no_file(self, tmp_path: Path) -> None:
        file = tmp_path / "witness.pem"
        result = CliRunner().invoke(app, ["witness", "key", str(file), "--name", "a b"])
        assert result.exit_code == 1
        assert not file.exists()


class TestMlDsaKey:
    def test_creates_an_ml_dsa_44_key_and_prints_its_vkey(self, tmp_path: Path) -> None:
        file = tmp_path / "witness.pem"
        args = ["witness", "key", str(file), "--name", "w.example/pq", "--algorithm", "ml-dsa-44"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        vkey = result.stdout.strip()
        key = parse_cosigner_key(vkey)
        assert key.name == "w.example/pq" and key.kind == 0x06
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert Cosigner("w.example/pq", load_private_key(file)).verifier_key() == vkey
        again = CliRunner().invoke(app, args)
        assert again.exit_code == 1 and "never overwritten" in again.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def served(tmp_path: Path, witness_database_url: str) -> Iterator[tuple[str, str, FakeLog]]:
    """`docket witness serve` in its own process for one log: (url, witness vkey, log)."""
    log = FakeLog().grow(20)
    key_file = tmp_path / "w.pem"
    created = subprocess.run(
        [DOCKET, "witness", "key", str(key_file), "--name", "w.example/cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    vkey = created.stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [
            DOCKET,
            "witness",
            "serve",
            "--key",
            str(key_file),
            "--name",
            "w.example/cli",
            "--log",
            log.vkey(),
            "--log",
            FakeLog(origin="other.example/log").vkey(),
            "--database",
            witness_database_url,
            "--port",
            str(port),
        ],
        env={**os.environ, "DOCKET_LOG_FORMAT": "console"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # until it answers; asserts nothing about time
            assert process.poll() is None, "docket witness serve exited"
            try:
                if httpx.get(url + "/").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url, vkey, log
    finally:
        process.terminate()
        process.wait()


async def test_serve_cosigns_for_the_logs_given(served: tuple[str, str, FakeLog]) -> None:
    url, vkey, log = served
    async with httpx.AsyncClient() as http:
        described = (await http.get(url + "/")).json()
        stranger = FakeLog(origin="nobody.example/log").grow(1)
        body = f"old 0\n\n{stranger.checkpoint()}"
        answer = await http.post(url + "/add-checkpoint", content=body)
    assert answer.status_code == 404
    assert described["vkey"] == vkey and log.vkey() in described["logs"]
    publisher = WitnessPublisher([WitnessConfig(url, vkey)], log.async_proof, timeout=10)
    try:
        for growth in (0, 7):
            log.grow(growth)
            note = log.checkpoint()
            [cosignature] = await publisher.cosign(note)
            verify_cosignature_line(split_note(note)[0], cosignature.line, parse_cosigner_key(vkey))
    finally:
        await publisher.aclose()
