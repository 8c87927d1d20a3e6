"""B9: a tlog-tiles client fetches every tile of a 1,000,000-event log over HTTP, checks
each level against the one below and the root against the checkpoint. Target: <= 10 s;
full tiles answered with an immutable cache header.

The tree's nodes are written straight into `merkle_nodes` of a fresh migrated database
(COPY; the leaves are synthetic, tiles holding hashes only) and served by
`service.publishing.public_log.public_log_router` over a SQL source, in its own uvicorn process. The
client uses 8 keep-alive connections on raw asyncio streams. Reference: as many requests
to a trivial endpoint of the same server.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import db
from bench.cli import parser, report
from bench.db import Result
from bench.http import request_bytes
from events.checkpoints import Signer, verify_checkpoint
from events.merkle import MerkleBuilder, subtree_root
from events.tiles import Tile, TileHashes, tile_at, tile_root, tiles_of_tree

ORIGIN = "bench.docket.example/log"
CONNECTIONS = 8


async def write_tree(dsn: str, size: int) -> bytes:
    """Store the nodes of a tree of `size` synthetic leaves; its root."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        builder = MerkleBuilder()
        batch: list[tuple[int, int, str]] = []
        for i in range(size):
            leaf = hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest()
            batch.extend(
                (level, index, digest.hex()) for level, index, digest in builder.append(leaf)
            )
            if len(batch) >= 200_000:
                await conn.copy_records_to_table(
                    "merkle_nodes", records=batch, columns=["level", "idx", "hash"]
                )
                batch = []
        if batch:
            await conn.copy_records_to_table(
                "merkle_nodes", records=batch, columns=["level", "idx", "hash"]
            )
        await conn.execute("ANALYZE merkle_nodes")
        return builder.root()
    finally:
        await conn.close()


def serve_app(dsn: str, note_file: str, port: int) -> None:
    """The server process: the public log router over `merkle_nodes`."""
    import asyncpg
    import uvicorn
    from fastapi import FastAPI

    from service.publishing.public_log import WitnessPolicy, public_log_router

    note = Path(note_file).read_text()
    pools: list[asyncpg.Pool] = []

    class Source:
        async def published_checkpoint(self) -> str | None:
            return note

        async def node_hashes(self, level: int, first: int, end: int) -> Sequence[bytes]:
            # One row of the hex hashes in order: a tile costs one fromhex, not 256.
            joined = await pools[0].fetchval(
                "SELECT string_agg(hash, '' ORDER BY idx) FROM merkle_nodes"
                " WHERE level = $1 AND idx >= $2 AND idx < $3",
                level, first, end,
            )  # fmt: skip
            data = bytes.fromhex(joined or "")
            return [data[i : i + 32] for i in range(0, len(data), 32)]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pools.append(await asyncpg.create_pool(dsn, min_size=2, max_size=CONNECTIONS))
        yield
        await pools[0].close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(public_log_router(Source(), WitnessPolicy(0)))

    @app.get("/trivial")
    async def trivial_endpoint() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def _get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bytes]:
    """One keep-alive exchange: status, head, body (httpx costs ~0.5 ms of CPU a request,
    which on 2 cores would measure the client; see bench/http.py)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return int(lines[0].split(b" ", 2)[1]), head, body


async def fetch_all(port: int, size: int) -> tuple[dict[Tile, bytes], int]:
    """Every tile of the tree; and how many full tiles lacked the immutable header."""
    queue = list(reversed(tiles_of_tree(size)))
    fetched: dict[Tile, bytes] = {}
    not_immutable = 0

    async def worker() -> None:
        nonlocal not_immutable
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                tile = queue.pop()
                request = request_bytes("GET", f"/public/log/{tile.path()}", port, None)
                status, head, body = await _get(reader, writer, request)
                if status != 200:
                    raise RuntimeError(f"{tile.path()} answered {status}")
                if tile.full and b"immutable" not in head.lower():
                    not_immutable += 1
                fetched[tile] = body
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return fetched, not_immutable


def check_tiles(fetched: dict[Tile, bytes], size: int, note: str, vkey: str) -> None:
    """Each hash of a tile is the root of the full tile below; the root is the checkpoint's."""
    checkpoint = verify_checkpoint(note, vkey)
    for tile, data in fetched.items():
        if tile.level == 0:
            continue
        for i in range(tile.width):
            below = tile_at(tile.level - 1, tile.index * 256 + i, size)
            if below is None or not below.full:
                raise AssertionError(f"{tile.path()} hash {i} has no full tile below")
            if tile_root(below, fetched[below]) != data[32 * i : 32 * i + 32]:
                raise AssertionError(f"{tile.path()} hash {i} is not the root of {below.path()}")
    reader = TileHashes(size, fetched)
    if subtree_root(0, size, reader.hash_at) != checkpoint.root:
        raise AssertionError("the tiles do not lead to the checkpoint's root")


async def trivial(port: int, count: int) -> float:
    """Reference: `count` requests to a trivial endpoint of the same server."""
    left = [count]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while left[0] > 0:
                left[0] -= 1
                await _get(reader, writer, request_bytes("GET", "/trivial", port, None))
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return time.perf_counter() - start


def run(events: int = 1_000_000) -> Result:
    result = Result("B9", "a tlog-tiles client reads every tile over HTTP", f"{events:,} events")
    database = f"{db.PREFIX}b9_run"
    url = asyncio.run(db.fresh(database))
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
    try:
        started = time.perf_counter()
        root = asyncio.run(write_tree(db.dsn(database), events))
        result.add("  tree nodes written (COPY) in", time.perf_counter() - started, "s")
        note = signer.sign_checkpoint(ORIGIN, events, root)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        note_file = Path(f"/tmp/docket-b9-{port}.note")
        note_file.write_text(note)
        arguments = f"{db.dsn(database)!r}, {str(note_file)!r}, {port}"
        code = f"from bench.b9 import serve_app; serve_app({arguments})"
        server = subprocess.Popen([sys.executable, "-c", code])
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    httpx.get(base + "/trivial").raise_for_status()
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            started = time.perf_counter()
            fetched, not_immutable = asyncio.run(fetch_all(port, events))
            fetching = time.perf_counter() - started
            check_tiles(fetched, events, note, signer.verifier_key())
            total = result.add(
                "every tile fetched and checked in", time.perf_counter() - started, "s"
            )
            result.add("  of which fetching", fetching, "s")
            result.add("tiles", len(fetched), "")
            result.add("full tiles without an immutable header", not_immutable, "")
            reference = asyncio.run(trivial(port, len(fetched)))
            result.add("reference: as many requests to a trivial endpoint", reference, "s")
            result.check("≤ 10 s", total <= 10)
            result.check("full tiles immutable", not_immutable == 0)
        finally:
            server.terminate()
            server.wait()
            note_file.unlink()
    finally:
        asyncio.run(db.drop(database))
    del url
    return result


def main() -> None:
    args = parser(__doc__ or "", events=1_000_000).parse_args()
    report(run(args.events), args.json)


if __name__ == "__main__":
    main()
