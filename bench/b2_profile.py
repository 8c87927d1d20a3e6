"""B2's load against one `docket serve`, optionally under pyinstrument (text report):
`python -m bench.b2_profile OUT.txt SECONDS` (pyinstrument installed in the venv); with
PROFILER=py-spy, `py-spy record` attached to the server for the commands' load only (OUT
in collapsed-stack form, one line per stack with its count of samples); or with NOPROF=1
the same load without the profiler (a quick A/B of two trees: run it with PYTHONPATH set
to each); with SEPARATE_WORK=1 the background work runs in a `docket work` beside the
server (as `bench.b2` runs it by default). Prints commands/s, p50, p99 and the ratio to
/healthz."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import b2, db, gen
from bench.http import one, process_cpu_seconds, request_bytes, run_load

out = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
database = f"{db.PREFIX}b2prof"
url = asyncio.run(b2._copy(10_000, database))
tmp = Path(tempfile.mkdtemp())
env = {
    **os.environ,
    "DOCKET_DATABASE_URL": url,
    "DOCKET_LOG_LEVEL": "WARNING",
    "DOCKET_LOG_FORMAT": "json",
    "DOCKET_SIGNING_KEY_FILE": str(tmp / "k"),
    "DOCKET_CHECKPOINT_INTERVAL_SECONDS": "3600",
    "DOCKET_CHECKPOINT_INTERVAL_EVENTS": "100000000",
}
venv = Path(sys.executable).parent
token = (
    subprocess.run(
        [str(venv / "docket"), "token", "create", "--role", "secretariat", "--name", "p"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    .stdout.strip()
    .splitlines()[-1]
)
port = 18000 + os.getpid() % 1000
cmd = [
    str(venv / "pyinstrument"),
    "-r",
    "text",
    "--show-all",
    "-o",
    out,
    str(venv / "docket"),
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    str(port),
]
spy = os.environ.get("PROFILER") == "py-spy"
if os.environ.get("NOPROF") or spy:
    cmd = [str(venv / "docket"), "serve", "--host", "127.0.0.1", "--port", str(port)]
worker: subprocess.Popen[bytes] | None = None
if os.environ.get("SEPARATE_WORK"):
    env["DOCKET_SERVE_BACKGROUND"] = "false"
    worker = subprocess.Popen([str(venv / "docket"), "work"], env=env)
proc = subprocess.Popen(cmd, env=env)
try:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    ready = request_bytes("GET", "/readyz", port, None)
    while asyncio.run(one(port, ready))[0] != 200:
        time.sleep(0.5)
    requests = gen.open_request_ids()
    place = {
        r: request_bytes("POST", f"/v1/requests/{r}/holds", port, token, {"member": "USA"})
        for r in requests
    }
    release = {
        r: request_bytes("POST", f"/v1/requests/{r}/holds/USA/release", port, token, {})
        for r in requests
    }
    mine = [requests[k::64] for k in range(64)]

    def command(k: int, n: int) -> bytes:
        rid = mine[k][(n // 2) % len(mine[k])]
        return place[rid] if n % 2 == 0 else release[rid]

    samplers: list[subprocess.Popen[bytes]] = []

    def sample() -> None:  # the measured window only, after run_load's warm-up
        samplers.append(subprocess.Popen(
            [str(venv / "py-spy"), "record", "--format", "raw", "--rate", "200", "-o", out,
             "--pid", str(proc.pid), "--duration", str(max(int(seconds) - 1, 1))],
            stdout=subprocess.DEVNULL,
        ))  # fmt: skip

    if spy:
        threading.Timer(2.0, sample).start()

    def cpu() -> float:
        return process_cpu_seconds(proc.pid)

    load = asyncio.run(run_load(port, 64, command, seconds=seconds, cpu=cpu))
    for sampler in samplers:
        sampler.wait(30)
    print(
        "commands/s",
        round(load.ok / load.seconds),
        "p50 ms",
        round(load.percentile(50) * 1000, 1),
        "p99 ms",
        round(load.percentile(99) * 1000, 1),
        "statuses",
        load.statuses,
        "server CPU µs/command",
        round(load.cpu_per_answer_us()),
        flush=True,
    )
    health = request_bytes("GET", "/healthz", port, None)
    trivial = asyncio.run(run_load(port, 64, lambda k, n: health, seconds=min(seconds, 5), cpu=cpu))
    print(
        "healthz/s",
        round(trivial.ok / trivial.seconds),
        "ratio",
        round(load.ok / load.seconds / (trivial.ok / trivial.seconds), 3),
        "server CPU µs/healthz",
        round(trivial.cpu_per_answer_us()),
        flush=True,
    )
finally:
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    if worker is not None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    asyncio.run(db.drop(database))
