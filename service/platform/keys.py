"""The log's signing key as an operator handles it (SPEC §8).

- `docket key generate FILE [--algorithm ed25519|ml-dsa-44]`: a new key in the format the
  service reads (PKCS#8 PEM), mode 0600, never over an existing file; prints the verifier
  key (C2SP note vkey, type 0x01 or 0x06) on standard output for monitors, witnesses and
  receipts' readers. An ML-DSA-44 key is given as DOCKET_MLDSA_SIGNING_KEY_FILE.
- `open_signing_key(settings)`: the key the service signs with. In production it must
  exist and be readable by its owner only, and is never created. Elsewhere a missing key
  is created on first use, and said so loudly: a development key is no key to publish.
"""

from __future__ import annotations

import os
import stat
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import structlog
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

from events.checkpoints import (
    Signer,
    SigningKeyError,
    load_mldsa_key,
    load_or_create_signing_key,
)
from service.platform.settings import Settings, get_settings

log = structlog.get_logger("docket.keys")

#: Permission bits a production key file may not have: anything for group or others.
_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


class Algorithm(StrEnum):
    """The signature algorithms of `--algorithm`."""

    ED25519 = "ed25519"
    ML_DSA_44 = "ml-dsa-44"


def key_pem(key: Ed25519PrivateKey | MLDSA44PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, key: Ed25519PrivateKey | MLDSA44PrivateKey) -> None:
    """`key` as PKCS#8 PEM in a new file `path`, mode 0600 whatever the umask; raises
    `FileExistsError` rather than replace a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, key_pem(key))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def generate_key_file(path: Path, origin: str, algorithm: str = Algorithm.ED25519) -> str:
    """Write a new key of `algorithm` to `path` (mode 0600, created exclusively: an
    existing file is never replaced) and give back its verifier key under `origin`."""
    edkey = Ed25519PrivateKey.generate()
    if algorithm == Algorithm.ML_DSA_44:
        mldsa = MLDSA44PrivateKey.generate()
        vkey = Signer(origin, edkey, mldsa).verifier_keys()[-1]  # checks the origin
        write_private(path, mldsa)
        return vkey
    signer = Signer(origin, edkey)  # checks the origin before anything is written
    write_private(path, edkey)
    return signer.verifier_key()


def shared_bits(path: Path) -> int:
    """The group and other permission bits of `path` (0 when its owner's alone)."""
    return stat.S_IMODE(path.stat().st_mode) & _SHARED_BITS


def check_private(path: Path) -> None:
    """Refuse a key file that its group or others may read, write or run."""
    bits = shared_bits(path)
    if bits:
        raise SigningKeyError(
            f"{path} is mode {stat.S_IMODE(path.stat().st_mode):04o}: a signing key must be "
            f"readable by its owner only (chmod 600 {path})"
        )


def open_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key checkpoints are signed with (see the module's doc for the rules)."""
    path = settings.signing_key_file
    if settings.environment == "production":
        if not path.exists():
            raise SigningKeyError(
                f"no signing key at {path}; production never creates one: "
                "`docket key generate FILE` makes one"
            )
        check_private(path)
        return load_or_create_signing_key(path, create=False)
    existed = path.exists()
    key = load_or_create_signing_key(path, create=True)
    if not existed:
        log.warning(
            "docket.signing_key.created",
            path=str(path.resolve()),
            verifier_key=Signer(settings.log_origin, key).verifier_key(),
            detail=(
                "a NEW signing key was generated because none was at DOCKET_SIGNING_KEY_FILE; "
                "fine for development, never for a published log: production refuses to "
                "create one (use `docket key generate FILE`)"
            ),
        )
    return key


def open_mldsa_key(settings: Settings) -> MLDSA44PrivateKey | None:
    """The ML-DSA-44 key of DOCKET_MLDSA_SIGNING_KEY_FILE, or None when it is not set.
    Never created; readable by its owner only, in every environment."""
    path = settings.mldsa_signing_key_file
    if path is None:
        return None
    if not path.exists():
        raise SigningKeyError(
            f"no ML-DSA-44 key at {path} (DOCKET_MLDSA_SIGNING_KEY_FILE): "
            "`docket key generate FILE --algorithm ml-dsa-44` makes one"
        )
    check_private(path)
    return load_mldsa_key(path)


key_app = typer.Typer(help="The log's signing keys (Ed25519, ML-DSA-44).", no_args_is_help=True)


@key_app.command("generate")
def generate(
    file: Annotated[Path, typer.Argument(help="where to write the new key (must not exist)")],
    origin: Annotated[
        str | None, typer.Option(help="the log origin the vkey names (default: DOCKET_LOG_ORIGIN)")
    ] = None,
    algorithm: Annotated[
        Algorithm, typer.Option(help="ed25519 (DOCKET_SIGNING_KEY_FILE) or ml-dsa-44")
    ] = Algorithm.ED25519,
) -> None:
    """A new signing key, mode 0600; prints its verifier key on standard output."""
    name = origin or get_settings().log_origin
    try:
        vkey = generate_key_file(file, name, algorithm)
    except FileExistsError:
        typer.echo(f"refused: {file} exists; a signing key is never overwritten", err=True)
        raise typer.Exit(1) from None
    except ValueError as error:  # the origin is not a note name
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(vkey)
