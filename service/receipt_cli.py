"""`docket receipt verify`: check an exemption receipt offline (SPEC §6.2, §8).

No network and no database: the receipt file, the log's verifier key and the witnesses'
keys the reader trusts. Exit 0 when every event shown is proved, 2 when some are pending
(shown as NOT YET VERIFIED), 1 naming what failed (which event, which check). The
checkpoint's tree size and the newest witness time are always printed.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from events.receipt import summary, verify_receipt

app = typer.Typer(help="Exemption receipts: verify one offline.", no_args_is_help=True)


def _key(value: str) -> str:
    """A vkey given as text (`name+id+base64`) or as a file holding it."""
    if "+" not in value:
        path = Path(value)
        if path.is_file():
            return path.read_text().strip()
    return value.strip()


@app.command("verify")
def verify(
    file: Path = typer.Argument(..., metavar="FILE", help="the receipt (JSON)"),
    log_key: str = typer.Option(
        ..., "--log-key", metavar="VKEY", help="the log's verifier key (/public/log-key)"
    ),
    witness: list[str] = typer.Option(
        [], "--witness", metavar="VKEY", help="a witness key you trust; repeat for each"
    ),
    quorum: int | None = typer.Option(
        None, "--quorum", metavar="K", help="cosignatures required (default: every witness)"
    ),
) -> None:
    """Verify a receipt against the log key and the witnesses you trust: exit 0 all shown
    proved, 2 some pending (not yet verified), 1 naming what failed."""
    try:
        receipt = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        typer.echo(f"NOT VERIFIED: cannot read the receipt {file}: {error}")
        raise typer.Exit(code=1) from None
    if quorum is not None and quorum < 0:
        typer.echo("NOT VERIFIED: --quorum must be 0 or more")
        raise typer.Exit(code=1)
    try:
        witnesses = [_key(w) for w in witness]
        check = verify_receipt(receipt, _key(log_key), witnesses, quorum)
    except (OSError, ValueError) as error:
        typer.echo(f"NOT VERIFIED: a key given is unusable: {error}")
        raise typer.Exit(code=1) from None
    typer.echo(summary(check))
    if check.exit_code:
        raise typer.Exit(code=check.exit_code)
