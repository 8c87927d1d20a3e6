"""`docket monitor`: follow a Docket's published checkpoint and catch a rollback or a fork.

Each check fetches `<URL>/public/log/checkpoint`, verifies the log's signature and a quorum
of witness cosignatures, and checks the checkpoint against the last one seen (kept in the
state file): a smaller tree is a rollback, another root at the same size is a fork, and a
larger tree must come with a consistency proof from the last one, taken from
`<URL>/public/log/proofs/consistency?from=&to=` or recomputed from the C2SP tlog-tiles at
`<URL>/public/log/tile/...`. Evidence (both signed checkpoints) is printed, posted to the
webhook, and ends the command with exit status 3. A check that cannot be made (the
service unreachable, a bad signature, no quorum) is not evidence: exit status 1, or in
`--follow` a report and another try.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import httpx
import typer

from events.checkpoints import Checkpoint, CheckpointError, parse_checkpoint, parse_verifier_key
from events.cosignature import CosignatureError, CosignerKey, parse_cosigner_key, verify_witnessed
from events.merkle import ProofError, consistency_proof, nodes_needed_for_consistency
from events.merkle import verify_consistency as verify_consistency_proof
from events.tiles import TileError, TileHashes, tiles_for_nodes

__all__ = [
    "EXIT_EVIDENCE",
    "Evidence",
    "MonitorError",
    "MonitorSettings",
    "Observation",
    "check_once",
    "monitor",
]

EXIT_EVIDENCE = 3
Via = Literal["proofs", "tiles"]


class MonitorError(Exception):
    """The check could not be made; nothing is proved either way."""


class Evidence(Exception):
    """The log showed two views that cannot both be true: both checkpoints are the proof."""

    def __init__(self, kind: str, reason: str, previous: str, current: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.previous = previous
        self.current = current

    def document(self, url: str) -> dict[str, str]:
        """What is posted to the webhook."""
        return {
            "kind": self.kind,
            "reason": self.reason,
            "log": url,
            "previous_checkpoint": self.previous,
            "current_checkpoint": self.current,
            "detected_at": datetime.now(UTC).isoformat(),
        }


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """What to follow and how to judge it."""

    url: str
    log_key: str
    witness_keys: tuple[CosignerKey, ...]
    quorum: int
    state: Path
    via: Via = "proofs"


@dataclass(frozen=True, slots=True)
class Observation:
    """One successful check: the checkpoint seen and the size it was checked against."""

    checkpoint: Checkpoint
    cosignatures: int
    previous_size: int | None


def read_state(path: Path) -> str | None:
    """The last checkpoint note seen, or None on a first run."""
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise MonitorError(f"state file {path} is unreadable: {error}") from None
    note = state.get("checkpoint") if isinstance(state, dict) else None
    if not isinstance(note, str):
        raise MonitorError(f"state file {path} holds no checkpoint")
    return note


def write_state(path: Path, url: str, note: str) -> None:
    """Replace the state file in one step (a crash leaves the old or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"log": url, "checkpoint": note, "seen_at": datetime.now(UTC).isoformat()}
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".monitor-state-")
    try:
        with os.fdopen(descriptor, "w") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


async def _get(http: httpx.AsyncClient, url: str, **params: int) -> httpx.Response:
    try:
        answer = await http.get(url, params=params or None)
    except httpx.HTTPError as error:
        raise MonitorError(f"GET {url}: {type(error).__name__}: {error}") from None
    if answer.status_code != 200:
        raise MonitorError(f"GET {answer.url}: HTTP {answer.status_code}")
    return answer


async def _proof_from_api(
    http: httpx.AsyncClient, base: str, old: Checkpoint, new: Checkpoint
) -> list[bytes]:
    answer = await _get(
        http, f"{base}/public/log/proofs/consistency", **{"from": old.size, "to": new.size}
    )
    try:
        body = answer.json()
        if body["from"] != old.size or body["to"] != new.size:
            raise MonitorError(f"the proof answered is for {body['from']} -> {body['to']}")
        return [bytes.fromhex(item) for item in body["proof"]]
    except (ValueError, KeyError, TypeError) as error:
        raise MonitorError(f"the consistency proof answer is malformed: {error}") from None


async def _proof_from_tiles(
    http: httpx.AsyncClient, base: str, old: Checkpoint, new: Checkpoint
) -> list[bytes]:
    tiles = tiles_for_nodes(nodes_needed_for_consistency(old.size, new.size), new.size)
    fetched = await asyncio.gather(*(_get(http, f"{base}/public/log/{t.path()}") for t in tiles))
    try:
        reader = TileHashes(new.size, {t: a.content for t, a in zip(tiles, fetched, strict=True)})
    except TileError as error:
        raise MonitorError(f"a tile is malformed: {error}") from None
    return consistency_proof(old.size, new.size, reader.hash_at)


async def check_once(http: httpx.AsyncClient, settings: MonitorSettings) -> Observation:
    """Check the published checkpoint; store it if it extends the last one seen.

    Raises `Evidence` (rollback, fork, bad proof) or `MonitorError`.
    """
    base = settings.url.rstrip("/")
    note = (await _get(http, f"{base}/public/log/checkpoint")).text
    try:
        checkpoint, cosignatures = verify_witnessed(
            note, settings.log_key, settings.witness_keys, settings.quorum
        )
    except (CheckpointError, CosignatureError) as error:
        raise MonitorError(f"the published checkpoint does not verify: {error}") from None
    previous_note = read_state(settings.state)
    if previous_note is None:
        write_state(settings.state, settings.url, note)
        return Observation(checkpoint, len(cosignatures), None)
    previous = parse_checkpoint(previous_note)
    if checkpoint.size < previous.size:
        raise Evidence(
            "rollback",
            f"the log now publishes size {checkpoint.size} after size {previous.size}",
            previous_note,
            note,
        )
    if checkpoint.size == previous.size:
        if checkpoint.root != previous.root:
            raise Evidence(
                "fork", f"two roots signed for size {checkpoint.size}", previous_note, note
            )
    else:
        fetch = _proof_from_tiles if settings.via == "tiles" else _proof_from_api
        try:
            proof = await fetch(http, base, previous, checkpoint)
            verify_consistency_proof(
                previous.size, checkpoint.size, previous.root, checkpoint.root, proof
            )
        except ProofError as error:
            raise Evidence(
                "bad-proof",
                f"size {checkpoint.size} is not shown to extend size {previous.size} "
                f"({settings.via}): {error}",
                previous_note,
                note,
            ) from None
        write_state(settings.state, settings.url, note)
    return Observation(checkpoint, len(cosignatures), previous.size)


def _describe(observation: Observation) -> str:
    checkpoint = observation.checkpoint
    change = (
        "first seen"
        if observation.previous_size is None
        else "unchanged"
        if observation.previous_size == checkpoint.size
        else f"extends size {observation.previous_size}"
    )
    return (
        f"ok: {checkpoint.origin} size {checkpoint.size} root {checkpoint.root.hex()} "
        f"({observation.cosignatures} cosignatures; {change})"
    )


async def _post_evidence(http: httpx.AsyncClient, webhook: str, document: dict[str, str]) -> None:
    try:
        answer = await http.post(webhook, json=document)
        if answer.status_code >= 300:
            typer.echo(f"warning: webhook answered HTTP {answer.status_code}", err=True)
    except httpx.HTTPError as error:
        typer.echo(f"warning: webhook {webhook}: {type(error).__name__}: {error}", err=True)


async def _run(
    settings: MonitorSettings,
    *,
    follow: bool,
    interval: float,
    webhook: str | None,
    progress: Callable[[str], None],
) -> int:
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as http:
        checks = 0
        while True:
            try:
                observation = await check_once(http, settings)
                checks += 1
                if not follow:
                    typer.echo(_describe(observation))
                    return 0
                progress(f"[{checks} checks] {_describe(observation)}")
            except Evidence as evidence:
                progress("")
                typer.echo(f"EVIDENCE ({evidence.kind}): {evidence.reason}")
                typer.echo("--- previous checkpoint (from the state file) ---")
                typer.echo(evidence.previous, nl=False)
                typer.echo("--- current checkpoint (published now) ---")
                typer.echo(evidence.current, nl=False)
                if webhook:
                    await _post_evidence(http, webhook, evidence.document(settings.url))
                return EXIT_EVIDENCE
            except MonitorError as error:
                if not follow:
                    typer.echo(f"error: {error}", err=True)
                    return 1
                progress(f"[{checks} checks] not checked: {error}")
            await asyncio.sleep(interval)


def _progress_printer() -> Callable[[str], None]:
    """On a terminal one line rewritten in place; in a pipe each change on its own line."""
    last = [""]
    if sys.stdout.isatty():

        def on_terminal(line: str) -> None:
            sys.stdout.write("\r\x1b[2K" + line[:200])
            sys.stdout.flush()

        return on_terminal

    def in_pipe(line: str) -> None:
        # Without the check count, so that a quiet log prints nothing more.
        text = line.partition("] ")[2]
        if text and text != last[0]:
            last[0] = text
            typer.echo(text)

    return in_pipe


def monitor(
    url: Annotated[str, typer.Argument(help="The Docket's public base URL.")],
    log_key: Annotated[str, typer.Option(help="The log's verifier key (GET /public/log-key).")],
    state: Annotated[Path, typer.Option(help="Where the last checkpoint seen is kept.")],
    witness: Annotated[
        list[str] | None, typer.Option(help="A witness's vkey (type 0x04); repeat.")
    ] = None,
    quorum: Annotated[
        int | None, typer.Option(help="Cosignatures required (default: every witness).")
    ] = None,
    follow: Annotated[bool, typer.Option(help="Keep checking every --interval seconds.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between checks (--follow).")] = 30.0,
    webhook: Annotated[str | None, typer.Option(help="POST evidence (JSON) here.")] = None,
    via: Annotated[
        str, typer.Option(help="Check consistency by 'proofs' or by 'tiles'.")
    ] = "proofs",
) -> None:
    """Follow a Docket's published checkpoint: signature, witness quorum, consistency with
    the last one seen; exit 3 with both checkpoints on a rollback, a fork or a bad proof."""
    try:
        parse_verifier_key(log_key)
    except CheckpointError as error:
        typer.echo(f"error: --log-key: {error}", err=True)
        raise typer.Exit(code=1) from None
    try:
        keys = tuple(parse_cosigner_key(text) for text in witness or [])
    except CosignatureError as error:
        typer.echo(f"error: --witness: {error}", err=True)
        raise typer.Exit(code=1) from None
    if via not in ("proofs", "tiles"):
        typer.echo("error: --via is 'proofs' or 'tiles'", err=True)
        raise typer.Exit(code=1)
    required = len(keys) if quorum is None else quorum
    if not 0 <= required <= len(keys):
        typer.echo(f"error: --quorum {required} with {len(keys)} witnesses", err=True)
        raise typer.Exit(code=1)
    chosen: Via = "tiles" if via == "tiles" else "proofs"
    settings = MonitorSettings(url, log_key, keys, required, state, chosen)
    try:
        code = asyncio.run(
            _run(
                settings,
                follow=follow,
                interval=interval,
                webhook=webhook,
                progress=_progress_printer(),
            )
        )
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code=code)
