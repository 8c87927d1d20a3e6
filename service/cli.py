"""`docket`: the command line (SPEC §8). One function per command on a flat typer app."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from events.store import EventStore
from events.verify_chain import ChainReport, verify_store_chain
from projections.runner import ProjectionLockBusy, ProjectionRunner
from service.db import upgrade_to_head
from service.settings import get_settings

app = typer.Typer(help="Docket: the committee's verifiable audit log.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Docket: the committee's verifiable audit log."""


@app.command()
def migrate() -> None:
    """Bring the database (DOCKET_DATABASE_URL) up to the latest schema."""
    upgrade_to_head(get_settings().database_url)
    typer.echo("database migrated to head")


@app.command()
def verify() -> None:
    """Verify the hash chain of the whole log; exit 1 naming the first bad position."""
    report = asyncio.run(_verify(get_settings().database_url, show_progress=sys.stdout.isatty()))
    if not report.ok:
        typer.echo(
            f"FAILED at position {report.bad_position}: {report.reason} "
            f"({report.checked} events verified before it)"
        )
        raise typer.Exit(code=1)
    typer.echo(f"ok: {report.checked} events, chain head {report.head_hash}")


async def _verify(url: str, *, show_progress: bool) -> ChainReport:
    store = await EventStore.open(url)
    try:
        if not show_progress:
            return await verify_store_chain(store)
        total, _ = await store.head()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("verifying chain", total=total)
            return await verify_store_chain(
                store, progress=lambda done: bar.update(task, completed=done)
            )
    finally:
        await store.close()


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
