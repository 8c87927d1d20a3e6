"""`docket witness key` and `docket witness serve` (SPEC §8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

from events.checkpoints import CheckpointError, SigningKeyError, load_private_key
from events.cosignature import CosignatureError, Cosigner
from service.platform.keys import Algorithm, write_private
from service.witness.storage import WitnessStore

__all__ = ["create_key_file", "witness_app"]

witness_app = typer.Typer(
    help="Run a C2SP tlog-witness that cosigns a Docket's consistent checkpoints.",
    no_args_is_help=True,
)


def create_key_file(
    path: Path, algorithm: str = Algorithm.ED25519
) -> Ed25519PrivateKey | MLDSA44PrivateKey:
    """A new Ed25519 or ML-DSA-44 key in a PKCS#8 PEM file created with mode 0600; never
    overwrites."""
    key: Ed25519PrivateKey | MLDSA44PrivateKey
    if algorithm == Algorithm.ML_DSA_44:
        key = MLDSA44PrivateKey.generate()
    else:
        key = Ed25519PrivateKey.generate()
    write_private(path, key)
    return key


def _cosigner(key_file: Path, name: str) -> Cosigner:
    try:
        return Cosigner(name, load_private_key(key_file))
    except (SigningKeyError, CosignatureError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


@witness_app.command("key")
def key(
    file: Annotated[Path, typer.Argument(help="Where to write the new key (mode 0600).")],
    name: Annotated[str, typer.Option(help="The witness's name, e.g. witness.example.org/w1")],
    algorithm: Annotated[
        Algorithm, typer.Option(help="ed25519 (cosignature/v1, 0x04) or ml-dsa-44 (0x06)")
    ] = Algorithm.ED25519,
) -> None:
    """Create a witness key; print its verifier key (type 0x04 Ed25519 or 0x06 ML-DSA-44)."""
    try:
        private = create_key_file(file, algorithm)
    except FileExistsError:
        typer.echo(f"error: {file} exists; a witness key is never overwritten", err=True)
        raise typer.Exit(code=1) from None
    try:
        typer.echo(Cosigner(name, private).verifier_key())
    except CosignatureError as error:
        file.unlink()
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


@witness_app.command("serve")
def serve(
    key_file: Annotated[Path, typer.Option("--key", help="The witness key file.")],
    name: Annotated[str, typer.Option(help="The witness's name (as for `witness key`).")],
    log: Annotated[
        list[str], typer.Option("--log", help="A log's verifier key; repeat for several logs.")
    ],
    database: Annotated[
        str, typer.Option(help="Where the witness keeps its state (SQLite or PostgreSQL URL).")
    ] = "sqlite+aiosqlite:///witness.db",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
) -> None:
    """Serve POST /add-checkpoint for the given logs (C2SP tlog-witness)."""
    import uvicorn

    from service.witness.app import create_witness_app
    from service.witness.witness import Witness, trusted_logs

    cosigner = _cosigner(key_file, name)
    try:
        trusted = trusted_logs(log)
    except CheckpointError as error:
        typer.echo(f"error: --log: {error}", err=True)
        raise typer.Exit(code=1) from None
    witness = Witness(cosigner, trusted, WitnessStore(database))
    typer.echo(f"witness {cosigner.verifier_key()} for {', '.join(trusted)}", err=True)
    uvicorn.run(create_witness_app(witness), host=host, port=port, log_level="warning")
