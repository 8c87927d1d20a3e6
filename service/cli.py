"""`docket`: the command line (SPEC §8). One function per command on a flat typer app."""

from __future__ import annotations

import asyncio
import sys

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
