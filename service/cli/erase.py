"""`docket erase` (SPEC §8): erase the sealed values of events, by position or request.

On a terminal it shows what would be erased and asks for confirmation; in a pipe it does
not ask (the operator's script decided). It prints what was erased, one line each, and
exits 1 with the rule broken (a position not in the log, or already erased), having
written nothing.
"""

from __future__ import annotations

import sys
import uuid

import typer
from pydantic import ValidationError

from service.commands.erasure import Erase, erase, erased_events
from service.commands.outcome import Meta
from service.commands.service import CommandService
from service.errors import DocketError
from service.platform.tokens import Caller

#: Who erases from the command line: the operator at the shell, as `metadata.actor`.
OPERATOR = Caller(token_id="cli", name="docket erase", role="secretariat")


def erase_command(
    position: list[int] = typer.Option(None, "--position", help="an event to erase (repeatable)"),
    request: str | None = typer.Option(None, "--request", help="erase every event of a request"),
    reason: str = typer.Option(..., "--reason", help="why (kept sealed in ErasureRecorded)"),
    decided_by: str = typer.Option(..., "--decided-by", help="who decided (kept clear)"),
) -> None:
    """Erase the sealed values of events (ErasureRecorded): every hash, proof and receipt
    stays valid; readers see {"erased": true, "by": P} in their place."""
    from service.cli import _with_commands

    try:
        command = Erase(
            positions=position or None,
            request_id=request,
            reason=reason,
            decided_by=decided_by,
        )
    except ValidationError as error:
        typer.echo(f"erase refused: {error.errors()[0]['msg']}", err=True)
        raise typer.Exit(code=2) from error
    asking = sys.stdin.isatty() and sys.stdout.isatty()

    async def run(commands: CommandService) -> list[str]:
        if asking:
            shown = command.positions or [
                e.position for e in await commands.store.read_stream(f"request-{request}")
            ]
            for item in await erased_events(commands, shown):
                typer.echo(f"will erase {item.position} {item.stream_id} {item.event_type}")
            if not typer.confirm("Erase these sealed values for ever?", default=False):
                raise typer.Abort()
        meta = Meta(caller=OPERATOR, correlation_id=str(uuid.uuid4()))
        outcome = await erase(commands, command, meta)
        lines = [
            f"erased {item['position']} {item['stream_id']} {item['event_type']}"
            for item in outcome.body["erased"]
        ]
        return [*lines, f"recorded ErasureRecorded at position {outcome.body['position']}"]

    try:
        lines = _with_commands(run)
    except DocketError as refused:
        rule = f" ({refused.rule})" if refused.rule else ""
        typer.echo(f"erase refused{rule}: {refused.detail}", err=True)
        raise typer.Exit(code=1) from refused
    for line in lines:
        typer.echo(line)
