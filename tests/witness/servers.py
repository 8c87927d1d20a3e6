"""Real HTTP servers on 127.0.0.1 for witness tests: uvicorn in a thread per app."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from events.cosignature import Cosigner
from events.witnessing import WitnessConfig
from service.witness.app import create_witness_app
from service.witness.storage import WitnessStore
from service.witness.witness import Witness, trusted_logs


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port and not listening yet: connections to it are
    refused until a server starts on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


@contextmanager
def serve(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve `app` on `sock` (a new one if None) until the block ends; yields its URL."""
    sock = sock or bound_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:  # waits for start-up; asserts nothing about time
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def witness_app(name: str, log_vkeys: list[str], database: Path) -> tuple[FastAPI, Cosigner]:
    cosigner = Cosigner(name, Ed25519PrivateKey.generate())
    store = WitnessStore(f"sqlite+aiosqlite:///{database}")
    return create_witness_app(Witness(cosigner, trusted_logs(log_vkeys), store)), cosigner


def config(url: str, cosigner: Cosigner) -> WitnessConfig:
    return WitnessConfig(url, cosigner.verifier_key())


def slow_app(release: threading.Event) -> FastAPI:
    """A witness that answers only once `release` is set."""
    app = FastAPI()

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> PlainTextResponse:
        await request.body()
        await asyncio.to_thread(release.wait)
        return PlainTextResponse("too late\n")

    return app


def garbage_app() -> FastAPI:
    """A witness that answers 200 with something that is not a cosignature."""
    app = FastAPI()

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> PlainTextResponse:
        await request.body()
        return PlainTextResponse("<html>cosigned, trust me</html>")

    return app
