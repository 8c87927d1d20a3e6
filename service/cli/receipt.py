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

from events.errors import PolicyError
from events.mldsa import ML_DSA_44
from events.receipt.cosignatures import COSIGNATURE_V1
from events.receipt.summary import summary
from events.receipt.verify import verify_receipt
from events.tlog_policy import Policy, parse_policy

app = typer.Typer(help="Exemption receipts: verify one offline.", no_args_is_help=True)


def _key(value: str) -> str:
    """A vkey given as text (`name+id+base64`) or as a file holding it."""
    if "+" not in value:
        path = Path(value)
        if path.is_file():
            return path.read_text().strip().split("\n")[0]  # /public/log-key: Ed25519 first
    return value.strip()


def _from_policy(path: Path, receipt: object) -> tuple[str, list[str], Policy]:
    """The log key (the policy's log of the receipt's origin), the witness keys and the
    policy of a C2SP tlog-policy file. Raises `PolicyError` or `OSError`."""
    policy = parse_policy(path.read_bytes())
    log = receipt.get("log") if isinstance(receipt, dict) else None
    origin = log.get("origin") if isinstance(log, dict) else None
    # The Ed25519 log key of the origin: it also signs the receipt's statement (an
    # ML-DSA-44 log key, listed too, signs checkpoints only).
    ed25519 = [k for k, _ in policy.logs if k.name == origin and k.kind == 0x01]
    key = ed25519[0] if ed25519 else None
    if key is None and isinstance(origin, str):
        key = policy.log_key(origin)
    if key is None:
        key = policy.logs[0][0] if len(policy.logs) == 1 else None
    if key is None:
        raise PolicyError(f"the policy lists no log of origin {str(origin)[:80]!r}")
    # Ed25519 cosignature/v1 and ML-DSA-44 witnesses are checked; the quorum rule decides.
    kinds = (COSIGNATURE_V1, ML_DSA_44)
    witnesses = [w.key.text for w in policy.witnesses if w.key.kind in kinds]
    return key.text, witnesses, policy


@app.command("verify")
def verify(
    file: Path = typer.Argument(..., metavar="FILE", help="the receipt (JSON)"),
    log_key: str | None = typer.Option(
        None, "--log-key", metavar="VKEY", help="the log's verifier key (/public/log-key)"
    ),
    policy_file: Path | None = typer.Option(
        None,
        "--policy",
        metavar="FILE",
        help="a C2SP tlog-policy file (e.g. /public/log/policy) in place of the key options",
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
    if (policy_file is None) == (log_key is None) or (policy_file and (witness or quorum)):
        typer.echo("NOT VERIFIED: give --policy FILE, or --log-key (with --witness, --quorum)")
        raise typer.Exit(code=1)
    try:
        if policy_file is not None:
            key, witnesses, policy = _from_policy(policy_file, receipt)
            check = verify_receipt(receipt, key, witnesses, policy=policy)
        else:
            assert log_key is not None
            witnesses = [_key(w) for w in witness]
            check = verify_receipt(receipt, _key(log_key), witnesses, quorum)
    except (OSError, ValueError) as error:
        typer.echo(f"NOT VERIFIED: a key or the policy given is unusable: {error}")
        raise typer.Exit(code=1) from None
    typer.echo(summary(check))
    if check.exit_code:
        raise typer.Exit(code=check.exit_code)
