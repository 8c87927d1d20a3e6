"""`docket`: the command line (SPEC §8). One function per command on a flat typer app."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from events.bundle import BundleError, verify_bundle
from events.checkpoints import Signer
from events.log_tree import LogTree
from events.store import EventStore
from events.transfer import ImportRefused, export_log, import_log
from events.verify_log import LogReport, verify_log
from projections.runner import ProjectionLockBusy, ProjectionRunner
from service.db import upgrade_to_head
from service.keys import key_app, open_signing_key
from service.logging import configure_logging
from service.settings import Settings, get_settings

app = typer.Typer(help="Docket: the committee's verifiable audit log.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Docket: the committee's verifiable audit log."""
    settings = get_settings()
    # Logs go to stderr (stdout carries the output); quiet unless a level is asked for.
    level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
    configure_logging(settings.effective_log_format, level)


@app.command()
def migrate() -> None:
    """Bring the database (DOCKET_DATABASE_URL) up to the latest schema."""
    upgrade_to_head(get_settings().database_url)
    typer.echo("database migrated to head")


@app.command()
def verify() -> None:
    """Verify the hash chain, the Merkle tree and every stored checkpoint; exit 1 naming the
    first bad position."""
    report = asyncio.run(_verify(show_progress=sys.stdout.isatty()))
    chain = report.chain
    if not chain.ok:
        typer.echo(
            f"FAILED at position {chain.bad_position}: {chain.reason} "
            f"({chain.checked} events verified before it)"
        )
        raise typer.Exit(code=1)
    if report.failures:
        for failure in report.failures:
            typer.echo(f"FAILED: {failure}")
        raise typer.Exit(code=1)
    typer.echo(
        f"ok: {chain.checked} events, chain head {chain.head_hash}, "
        f"Merkle root {report.root}, {report.checkpoints} checkpoints verified"
    )


def _bar(description: str, total: int | None) -> Progress:
    return Progress(
        f"[progress.description]{description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    )


async def _verify(*, show_progress: bool) -> LogReport:
    settings = get_settings()
    async with await EventStore.open(settings.database_url) as store:
        key = _signer(settings).verifier_key() if settings.signing_key_file.exists() else None
        if not show_progress:
            return await verify_log(store, key)
        total, _ = await store.head()
        with _bar("verifying", total) as bar:
            task = bar.add_task("verifying", total=total)
            return await verify_log(
                store, key, progress=lambda done: bar.update(task, completed=done)
            )


def _signer(settings: Settings) -> Signer:
    return Signer(settings.log_origin, open_signing_key(settings))


@app.command()
def checkpoint() -> None:
    """Extend the Merkle tree to the log's head and sign a checkpoint of it."""
    settings = get_settings()

    async def run() -> str:
        async with await EventStore.open(settings.database_url) as store:
            tree = LogTree(store)
            await tree.sign_checkpoint(_signer(settings), settings.log_origin)
            latest = await tree.latest_checkpoint()
            return latest.note if latest else ""

    note = asyncio.run(run())
    if not note:
        typer.echo("the log is empty: nothing to sign", err=True)
        raise typer.Exit(code=1)
    typer.echo(note, nl=False)


@app.command("export")
def export_command(file: Path = typer.Argument(..., help="where to write the JSON Lines")) -> None:
    """Write the whole log as JSON Lines, one event per line in wire form."""

    async def run() -> int:
        async with await EventStore.open(get_settings().database_url) as store:
            with file.open("wb") as out:
                return await export_log(store, out)

    typer.echo(f"exported {asyncio.run(run())} events to {file}")


@app.command("import")
def import_command(file: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Import a log exported by `docket export` into an empty database, verifying every
    hash first; nothing is written if anything is wrong."""
    settings = get_settings()

    async def run() -> int:
        async with await EventStore.open(settings.database_url) as store:
            if sys.stdout.isatty():
                with _bar("checking", None) as bar:
                    task = bar.add_task("checking", total=None)
                    count = await import_log(
                        store, file, progress=lambda done: bar.update(task, completed=done)
                    )
            else:
                count = await import_log(store, file)
            await LogTree(store).extend()
            runner = ProjectionRunner(store.engine, store)
            try:
                await runner.catch_up()
            finally:
                await runner.close()
            return count

    try:
        count = asyncio.run(run())
    except ImportRefused as refused:
        typer.echo(str(refused), err=True)
        raise typer.Exit(code=1) from refused
    typer.echo(f"imported {count} events from {file}")


@app.command("verify-bundle")
def verify_bundle_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="an exported log"),
    checkpoint: Path = typer.Option(..., exists=True, help="a signed checkpoint note"),
    key: str = typer.Option(..., help="the verifier key, or a file holding it"),
) -> None:
    """Verify an exported log against a signed checkpoint, offline: no database."""
    key_text = Path(key).read_text().strip() if Path(key).is_file() else key.strip()
    with file.open("rb") as lines:
        try:
            report = verify_bundle(lines, checkpoint.read_text(), key_text)
        except BundleError as error:
            typer.echo(f"FAILED: {error}")
            raise typer.Exit(code=1) from error
    typer.echo(str(report))


@app.command()
def rebuild(
    projection: str | None = typer.Argument(
        None, help="request_state, request_history or holds; all when left out"
    ),
) -> None:
    """Rebuild the read models from position 0 (all of them, or PROJECTION)."""
    names = [projection] if projection else None
    try:
        reached = asyncio.run(
            _rebuild(get_settings().database_url, names, show_progress=sys.stdout.isatty())
        )
    except (ValueError, ProjectionLockBusy) as error:
        typer.echo(f"rebuild refused: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(f"rebuilt {projection or 'all projections'} up to position {reached}")


async def _rebuild(url: str, names: list[str] | None, *, show_progress: bool) -> int:
    store = await EventStore.open(url)
    runner = ProjectionRunner(store.engine, store)
    try:
        if not show_progress:
            return await runner.rebuild(names)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("rebuilding projections", total=None)
            return await runner.rebuild(
                names, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    finally:
        await runner.close()
        await store.close()


# -- the service and its operators ---------------------------------------------------------


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(1, help="worker processes (PostgreSQL only for more than 1)"),
) -> None:
    """Serve the API, the public feeds and pages."""
    import uvicorn

    uvicorn.run(
        "service.main:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
    )


token_app = typer.Typer(help="Bearer tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="secretariat, auditor or applicant"),
    name: str = typer.Option(..., help="who the token is for"),
    org: str | None = typer.Option(None, help="the organisation an applicant token is bound to"),
) -> None:
    """Create a token and print it alone on standard output, once."""
    from service.tokens import ROLES, create_token

    if role not in ROLES:
        typer.echo(f"--role must be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(code=2)

    async def run() -> str:
        async with await EventStore.open(get_settings().database_url) as store:
            return await create_token(store.engine, role, name, org)

    try:
        typer.echo(asyncio.run(run()))
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from error


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from service.tokens import list_tokens

    async def run() -> None:
        async with await EventStore.open(get_settings().database_url) as store:
            for row in await list_tokens(store.engine):
                state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "live"
                org = f" org={row.org}" if row.org else ""
                typer.echo(f"{row.id}\t{row.role}\t{row.name}{org}\t{state}")

    asyncio.run(run())


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Revoke a token by its id."""
    from service.tokens import revoke_token

    async def run() -> bool:
        async with await EventStore.open(get_settings().database_url) as store:
            return await revoke_token(store.engine, token_id)

    if not asyncio.run(run()):
        typer.echo(f"no live token {token_id}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"revoked {token_id}")


roster_app = typer.Typer(help="The committee's roster.", no_args_is_help=True)
app.add_typer(roster_app, name="roster")
app.add_typer(key_app, name="key")


async def _with_commands(work: Any) -> Any:
    from service.commands import CommandService

    settings = get_settings()
    async with await EventStore.open(settings.database_url) as store:
        runner = ProjectionRunner(store.engine, store)
        try:
            commands = CommandService(store, settings, catch_up=runner.catch_up)
            result = await work(commands)
            await runner.catch_up()
            return result
        finally:
            await runner.close()


@roster_app.command("load")
def roster_load() -> None:
    """Seat the Security Council's members for 2025 and 2026 (skips those seated)."""
    from service.demo import load_roster

    added = asyncio.run(_with_commands(load_roster))
    typer.echo(f"roster: {added} members seated")


@app.command()
def demo() -> None:
    """Load a realistic scenario: 30+ requests over 2025-2026, every status."""
    from service.demo import load_demo

    async def run(commands: Any) -> dict[str, str]:
        if sys.stdout.isatty():
            with Progress(BarColumn(), MofNCompleteColumn(), transient=True) as bar:
                task = bar.add_task("demo", total=None)
                return await load_demo(
                    commands, lambda done, total: bar.update(task, completed=done, total=total)
                )
        return await load_demo(commands)

    try:
        ids = asyncio.run(_with_commands(run))
    except Exception as error:  # a second demo on the same database breaks the rules
        typer.echo(f"demo not loaded: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(f"demo: {len(ids)} requests loaded")
