"""B10: checkpoint signed -> cosigned by 3 witnesses on loopback -> published.
Target: p50 <= 50 ms.

Three `docket witness serve` processes, each on its own PostgreSQL database; the log side
is `events.witnessing.WitnessPublisher` with consistency proofs from a tree of `--events`
leaves held in memory (the stored tree answers the same proofs in O(log n) reads, B6).
Each round adds 100 leaves, signs the checkpoint, has all three cosign it, and picks the
published checkpoint (`published`, quorum 3). Then the same through the service's own
path (`Runtime` on a PostgreSQL database with DOCKET_WITNESSES): the stored tree signs,
`service.publishing.cosigning` submits and keeps the cosignatures, `published_checkpoint` reads and
verifies them. Reference: a bare HTTP round trip to one witness on the same connection
pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import db
from bench.cli import parser, report
from bench.db import Result
from events.checkpoints import Signer
from events.merkle import MerkleBuilder, consistency_proof, node_source
from events.witnessing import WitnessConfig, WitnessedCheckpoint, WitnessPublisher, published

ORIGIN = "bench.docket.example/log"
#: The wired rounds' log: another log for the same witnesses (they follow both).
WIRED_ORIGIN = "bench.docket.example/wired"
DOCKET = str(Path(sys.executable).with_name("docket"))
ROUND_LEAVES = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Tree:
    def __init__(self, size: int) -> None:
        self.builder = MerkleBuilder()
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.grow(size)

    def grow(self, count: int) -> None:
        for _ in range(count):
            leaf = hashlib.sha256(self.builder.size.to_bytes(8, "big")).digest()
            for level, index, digest in self.builder.append(leaf):
                self.nodes[(level, index)] = digest

    async def proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(old, new, node_source(self.nodes))


async def _rounds(
    witnesses: list[WitnessConfig], signer: Signer, tree: Tree, seconds: float
) -> tuple[list[float], list[float]]:
    async with httpx.AsyncClient(timeout=10) as http:
        publisher = WitnessPublisher(witnesses, tree.proof, timeout=5, http=http)
        keys = publisher.keys()
        # Warm up: first contact (409 resync) and connections.
        await publisher.cosign(
            signer.sign_checkpoint(ORIGIN, tree.builder.size, tree.builder.root())
        )
        times: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(times) < 30:
            tree.grow(ROUND_LEAVES)
            start = time.perf_counter()
            note = signer.sign_checkpoint(ORIGIN, tree.builder.size, tree.builder.root())
            cosignatures = await publisher.cosign(note)
            chosen = published(
                [WitnessedCheckpoint(note, tuple(c.line for c in cosignatures))], keys, 3
            )
            times.append(time.perf_counter() - start)
            if chosen is None:
                raise RuntimeError(f"not published: {publisher.status()}")
        bare: list[float] = []
        for _ in range(200):
            start = time.perf_counter()
            (await http.get(witnesses[0].url + "/")).raise_for_status()
            bare.append(time.perf_counter() - start)
        return times, bare


async def _wired_rounds(
    witnesses: list[WitnessConfig], key: Ed25519PrivateKey, database: str, tmp: str, rounds: int
) -> dict[str, list[float]]:
    """The service's own path: a Runtime on PostgreSQL with DOCKET_WITNESSES (quorum 3).
    Each round appends 100 events, then times `tree.sign_checkpoint` (extend the stored
    tree, sign, store; reported apart: B10 starts once the checkpoint is signed),
    `cosigning.run_once` (proof from the stored tree, three submissions, keep the
    cosignatures) and `published_checkpoint` (read and verify): signed -> published is
    the last two."""
    from datetime import UTC, datetime

    from events.model import NewEvent, StreamAppend
    from service import bootstrap
    from service.platform.keys import key_pem
    from service.platform.settings import Settings
    from service.queries.publication import published_checkpoint

    key_file = Path(tmp) / "log.pem"
    key_file.write_bytes(key_pem(key))
    key_file.chmod(0o600)
    settings = Settings(
        database_url=await db.fresh(database),
        environment="test",
        signing_key_file=key_file,
        log_origin=WIRED_ORIGIN,
        witnesses=tuple(witnesses),
        witness_quorum=len(witnesses),
    )
    phases: dict[str, list[float]] = {"sign": [], "cosign": [], "publish": [], "total": []}
    async with bootstrap.build(settings) as runtime:
        cosigning = runtime.cosigning
        assert cosigning is not None
        try:
            for number in range(rounds + 1):
                now = datetime.now(UTC)
                events = [
                    NewEvent("bench-b10", "BenchTick", {"n": number, "i": i}, now)
                    for i in range(ROUND_LEAVES)
                ]
                await runtime.store.append(StreamAppend("bench-b10", "any", events))
                start = time.perf_counter()
                signed = await runtime.tree.sign_checkpoint(runtime.signer, WIRED_ORIGIN)
                after_sign = time.perf_counter()
                await cosigning.run_once()
                after_cosign = time.perf_counter()
                found = await published_checkpoint(runtime)
                end = time.perf_counter()
                if signed is None or found is None or found.size != signed.tree_size:
                    raise RuntimeError(f"not published: {cosigning.status()}")
                if number == 0:
                    continue  # first contact: connections and the witnesses' first state
                phases["sign"].append(after_sign - start)
                phases["cosign"].append(after_cosign - after_sign)
                phases["publish"].append(end - after_cosign)
                phases["total"].append(end - after_sign)
        finally:
            await cosigning.aclose()
    return phases


async def _single_row_commits(database: str, rounds: int = 200) -> list[float]:
    """Reference: the witness's one durable write, bare (asyncpg, autocommit UPDATE)."""
    import asyncpg

    conn = await asyncpg.connect(db.dsn(database))
    try:
        await conn.execute("CREATE TABLE bench_b10_row (k text PRIMARY KEY, v bigint)")
        await conn.execute("INSERT INTO bench_b10_row VALUES ('a', 0)")
        times = []
        for i in range(rounds):
            start = time.perf_counter()
            await conn.execute("UPDATE bench_b10_row SET v = $1 WHERE k = 'a'", i)
            times.append(time.perf_counter() - start)
        return times
    finally:
        await conn.close()


def run(events: int = 200_000, seconds: float = 8.0) -> Result:
    result = Result(
        "B10", "checkpoint signed -> cosigned by 3 witnesses -> published", f"{events:,} leaves"
    )
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
    wired_key = Ed25519PrivateKey.generate()
    wired_signer = Signer(WIRED_ORIGIN, wired_key)
    started = time.perf_counter()
    tree = Tree(events)
    result.add("  tree of the log built in memory in", time.perf_counter() - started, "s")
    names = [f"{db.PREFIX}b10_w{i}" for i in range(3)]
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="docket-b10-") as tmp:
        try:
            witnesses = []
            used: set[int] = set()
            for i, name in enumerate(names):
                asyncio.run(db.drop(name))
                asyncio.run(db.admin(f'CREATE DATABASE "{name}"'))
                key = Path(tmp) / f"w{i}.pem"
                vkey = subprocess.run(
                    [DOCKET, "witness", "key", str(key), "--name", f"w{i}.bench.example/w"],
                    capture_output=True, text=True, check=True,
                ).stdout.strip()  # fmt: skip
                port = _free_port()
                while port in used:  # freed sockets' ports come back before the servers bind
                    port = _free_port()
                used.add(port)
                processes.append(
                    subprocess.Popen(
                        [
                            DOCKET,
                            "witness",
                            "serve",
                            "--key",
                            str(key),
                            "--name",
                            f"w{i}.bench.example/w",
                            "--log",
                            signer.verifier_key(),
                            "--log",
                            wired_signer.verifier_key(),
                            "--database",
                            db.url(name),
                            "--port",
                            str(port),
                        ],
                        stderr=subprocess.DEVNULL,
                    )
                )
                witnesses.append(WitnessConfig(f"http://127.0.0.1:{port}", vkey))
            for witness in witnesses:
                while True:
                    try:
                        httpx.get(witness.url + "/").raise_for_status()
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
            times, bare = asyncio.run(_rounds(witnesses, signer, tree, seconds))
            wired = asyncio.run(_wired_rounds(witnesses, wired_key, f"{db.PREFIX}b10_log", tmp, 40))
            commits = asyncio.run(_single_row_commits(names[0]))
        finally:
            for process in processes:
                process.terminate()
                process.wait()
            for name in [*names, f"{db.PREFIX}b10_log"]:
                asyncio.run(db.drop(name))
    p50 = result.add("signed -> published p50", statistics.median(times) * 1000, "ms")
    result.add("signed -> published p99", sorted(times)[int(len(times) * 0.99)] * 1000, "ms")
    result.add("rounds", len(times), "")
    wired_p50 = result.add(
        "wired (Runtime on PostgreSQL): signed -> published p50",
        statistics.median(wired["total"]) * 1000,
        "ms",
    )
    for phase in ("cosign", "publish"):
        result.add(f"  of which {phase} p50", statistics.median(wired[phase]) * 1000, "ms")
    result.add(
        "  (before it: sign, extend + sign + store, p50)",
        statistics.median(wired["sign"]) * 1000,
        "ms",
    )
    result.add(
        "reference: bare HTTP round trip to a witness p50", statistics.median(bare) * 1000, "ms"
    )
    result.add(
        "reference: one PostgreSQL single-row commit p50", statistics.median(commits) * 1000, "ms"
    )
    result.check("p50 ≤ 50 ms", p50 <= 50)
    result.check("wired p50 ≤ 50 ms", wired_p50 <= 50)
    result.notes.append(
        f"{os.cpu_count()} cores; witnesses on PostgreSQL; {ROUND_LEAVES} leaves a round"
    )
    return result


def main() -> None:
    args = parser(__doc__ or "", events=200_000).parse_args()
    report(run(args.events, args.seconds), args.json)


if __name__ == "__main__":
    main()
