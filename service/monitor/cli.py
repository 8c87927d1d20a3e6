"""`docket monitor`'s command: one check, or `--follow` until evidence.

The checks themselves are in `service.monitor.monitor`. Here: the loop, what is printed, the
evidence kept beside the state file and posted to the webhook (bounded like every other
exchange), and the alarm after `--alarm-after` checks in a row that could not be made. In
`--follow` no error ends the command but evidence: anything else is reported and tried
again at the next interval, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer

from events.bounded_http import PeerAnswerError, bounded_request
from events.checkpoints import CheckpointError, parse_verifier_key
from events.cosignature import (
    COSIGNATURE_V1,
    ML_DSA_44,
    CosignatureError,
    CosignerKey,
    parse_cosigner_key,
)
from events.errors import PolicyError
from events.tlog_policy import Policy, parse_policy
from service.monitor.monitor import (
    EXIT_EVIDENCE,
    Evidence,
    MonitorError,
    MonitorSettings,
    Observation,
    Via,
    check_once,
    evidence_file,
    keep_evidence,
)

__all__ = ["monitor"]

_WEBHOOK_LIMIT = 64 * 1024  # the webhook's answer is not used, only its status


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


async def _post(
    http: httpx.AsyncClient, webhook: str, document: dict[str, object], within: float
) -> None:
    """POST `document` to the webhook, bounded like every other exchange; warns on failure."""
    try:
        answer = await bounded_request(
            http,
            "POST",
            webhook,
            limit=_WEBHOOK_LIMIT,
            within=within,
            content=json.dumps(document).encode(),
            headers={"content-type": "application/json"},
        )
    except PeerAnswerError as error:
        typer.echo(f"warning: webhook {webhook}: {error}", err=True)
        return
    if answer.status_code >= 300:
        typer.echo(f"warning: webhook answered HTTP {answer.status_code}", err=True)


async def _report_evidence(
    http: httpx.AsyncClient, settings: MonitorSettings, evidence: Evidence, webhook: str | None
) -> None:
    typer.echo(f"EVIDENCE ({evidence.kind}): {evidence.reason}")
    typer.echo("--- previous checkpoint (from the state file) ---")
    typer.echo(evidence.previous or "(none: no checkpoint held yet)\n", nl=False)
    typer.echo("--- current checkpoint (published now) ---")
    typer.echo(evidence.current, nl=False)
    document = evidence.document(settings.url)
    try:
        keep_evidence(settings.state, document)
    except OSError as error:
        typer.echo(f"warning: evidence not kept in {evidence_file(settings.state)}: {error}")
    if webhook:
        await _post(http, webhook, dict(document), settings.timeout)


def _cannot_check(error: Exception) -> str:
    """What a failed check says: a `MonitorError` as it is, anything else by its type (in
    `--follow` an unforeseen error is reported and tried again, never a traceback)."""
    text = str(error) if isinstance(error, MonitorError) else f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


async def _run(
    settings: MonitorSettings,
    *,
    follow: bool,
    interval: float,
    webhook: str | None,
    progress: Callable[[str], None],
    alarm_after: int = 10,
) -> int:
    # Redirects are followed by `bounded_request` alone: to the same origin only.
    async with httpx.AsyncClient(timeout=settings.timeout, follow_redirects=False) as http:
        checks = 0
        failures = 0  # checks in a row that could not be made
        while True:
            try:
                observation = await check_once(http, settings)
                checks += 1
                failures = 0
                if not follow:
                    typer.echo(_describe(observation))
                    return 0
                progress(f"[{checks} checks] {_describe(observation)}")
            except Evidence as evidence:
                progress("")
                await _report_evidence(http, settings, evidence, webhook)
                return EXIT_EVIDENCE
            except Exception as error:
                reason = _cannot_check(error)
                if not follow:
                    typer.echo(f"error: cannot check: {reason}", err=True)
                    return 1
                failures += 1
                progress(f"[{checks} checks] not checked: {reason}")
                if failures == alarm_after:
                    progress("")
                    typer.echo(f"ALARM: {failures} checks in a row could not be made: {reason}")
                    if webhook:
                        alarm: dict[str, object] = {
                            "kind": "cannot-check",
                            "reason": reason,
                            "log": settings.url,
                            "checks": failures,
                            "detected_at": datetime.now(UTC).isoformat(),
                        }
                        await _post(http, webhook, alarm, settings.timeout)
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


def _policy_options(path: Path, log_key: str | None) -> tuple[str, tuple[CosignerKey, ...], Policy]:
    """`--policy FILE`: the log key (the one `--log-key` names, or the policy's only log),
    the Ed25519 witness keys and the policy. Raises `PolicyError`, `OSError`."""
    policy = parse_policy(path.read_bytes())
    logs = [key.text for key, _ in policy.logs]
    if log_key is not None:
        if log_key.strip() not in logs:
            raise PolicyError("the policy does not list the --log-key given")
        chosen = log_key.strip()
    elif len(logs) == 1:
        chosen = logs[0]
    elif len({key.name for key, _ in policy.logs}) == 1:
        # One log under two keys (Ed25519 and ML-DSA-44): either verifies its checkpoints.
        chosen = next((k.text for k, _ in policy.logs if k.kind == 0x01), logs[0])
    else:
        raise PolicyError(f"the policy lists {len(logs)} logs: name one with --log-key")
    keys = tuple(
        parse_cosigner_key(w.key.text)
        for w in policy.witnesses
        if w.key.kind in (COSIGNATURE_V1, ML_DSA_44)
    )
    return chosen, keys, policy


def monitor(
    url: Annotated[str, typer.Argument(help="The Docket's public base URL.")],
    state: Annotated[Path, typer.Option(help="Where the last checkpoint seen is kept.")],
    log_key: Annotated[
        str | None, typer.Option(help="The log's verifier key (GET /public/log-key).")
    ] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="A C2SP tlog-policy file in place of --witness and --quorum."
        ),
    ] = None,
    witness_url: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-url",
            help="A witness's monitoring prefix: compare its latest cosigned checkpoint of "
            "the log with the log's; repeat.",
        ),
    ] = None,
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
    timeout: Annotated[
        float, typer.Option(help="Seconds one answer may take in all, body included.")
    ] = 30.0,
    alarm_after: Annotated[
        int,
        typer.Option(
            help="--follow: alarm (and post to the webhook) after this many checks in a row "
            "that could not be made; 0 never."
        ),
    ] = 10,
) -> None:
    """Follow a Docket's published checkpoint: signature, witness quorum, consistency with
    the last one seen; exit 3 with both checkpoints on a rollback, a fork, a bad proof or a
    log-signed checkpoint that does not parse; exit 1 when it cannot check."""
    policy = None
    if policy_file is not None:
        if witness or quorum is not None:
            typer.echo("error: --policy takes the place of --witness and --quorum", err=True)
            raise typer.Exit(code=1)
        try:
            log_key, keys, policy = _policy_options(policy_file, log_key)
        except (OSError, PolicyError, CosignatureError) as error:
            typer.echo(f"error: --policy: {error}", err=True)
            raise typer.Exit(code=1) from None
    if log_key is None:
        typer.echo("error: give --log-key or --policy", err=True)
        raise typer.Exit(code=1)
    try:
        parse_verifier_key(log_key)
    except CheckpointError as error:
        typer.echo(f"error: --log-key: {error}", err=True)
        raise typer.Exit(code=1) from None
    if policy is None:
        try:
            keys = tuple(parse_cosigner_key(text) for text in witness or [])
        except CosignatureError as error:
            typer.echo(f"error: --witness: {error}", err=True)
            raise typer.Exit(code=1) from None
    if via not in ("proofs", "tiles"):
        typer.echo("error: --via is 'proofs' or 'tiles'", err=True)
        raise typer.Exit(code=1)
    required = len(keys) if quorum is None else quorum
    if policy is not None:
        required = 0  # the policy's rule decides
    if not 0 <= required <= len(keys):
        typer.echo(f"error: --quorum {required} with {len(keys)} witnesses", err=True)
        raise typer.Exit(code=1)
    if not 0 < timeout <= 3600 or alarm_after < 0:
        typer.echo("error: --timeout is in (0, 3600] and --alarm-after at least 0", err=True)
        raise typer.Exit(code=1)
    chosen: Via = "tiles" if via == "tiles" else "proofs"
    settings = MonitorSettings(
        url, log_key, keys, required, state, chosen, timeout, policy, tuple(witness_url or ())
    )
    try:
        code = asyncio.run(
            _run(
                settings,
                follow=follow,
                interval=interval,
                webhook=webhook,
                progress=_progress_printer(),
                alarm_after=alarm_after,
            )
        )
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code=code)
