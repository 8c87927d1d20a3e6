"""`docket`, the command line (SPEC §8); `app` is the console entry point
(`service.cli:app`). The log's, serving's and tokens' commands are functions
here on one typer app; a larger command group has a module of its own
(`report`, `receipt`, `demo`; `docket witness` and `docket monitor` live in
their programs' packages).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import structlog
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from events.bundle import BundleError, verify_bundle
from events.transfer import ImportRefused, export_log, import_log
from events.verify_log import LogReport, verify_log
from projections.read_models import default_projections
from projections.runner import ProjectionLockBusy, RebuildWorkerFailed
from service import bootstrap
from service.cli.receipt import app as receipt_app
from service.cli.report import report_command
from service.commands.service import CommandService
from service.platform.collector import settle_after_start
from service.platform.db import refresh_statistics, upgrade_to_head
from service.platform.keys import key_app
from service.platform.logging import configure_logging
from service.platform.settings import get_settings
from service.queries.receipt_audit import audit_statement
from service.runtime import Runtime

app = typer.Typer(help="Docket: the committee's verifiable audit log.", no_args_is_help=True)
app.command("report")(report_command)
T = TypeVar("T")


def _on_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run `work` on the `Runtime` the app runs on (`service.bootstrap.build`), built from
    the process's settings and closed after."""

    async def run() -> T:
        async with bootstrap.build(get_settings()) as runtime:
            return await work(runtime)

    return asyncio.run(run())


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
def verify(
    receipt: Path | None = typer.Option(
        None,
        "--receipt",
        metavar="FILE",
        dir_okay=False,
        help="check a receipt's signed statement against the log instead: exit 3 with "
        "evidence if it leaves out a public event of the request",
    ),
) -> None:
    """Verify the hash chain, the Merkle tree and every stored checkpoint; exit 1 naming the
    first bad position. With --receipt, check that receipt's statement against the log."""
    if receipt is not None:
        _verify_receipt(receipt)
        return
    show_progress = sys.stdout.isatty()
    report = _on_runtime(lambda runtime: _verify(runtime, show_progress=show_progress))
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


def _verify_receipt(file: Path) -> None:
    """`docket verify --receipt FILE`: exit 0 complete, 1 unusable, 3 with evidence."""
    try:
        document = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        typer.echo(f"FAILED: cannot read the receipt {file}: {error}")
        raise typer.Exit(code=1) from None
    audit = _on_runtime(lambda runtime: audit_statement(runtime, document))
    if audit.problem is not None:
        typer.echo(f"FAILED: {audit.problem}")
        raise typer.Exit(code=1)
    assert audit.statement is not None
    said = audit.statement
    if not audit.missing:
        typer.echo(
            f"ok: the statement of {said.request_id} names all {len(said.positions)} public "
            f"events of the request up to size {said.size:,}"
        )
        return
    typer.echo(
        f"EVIDENCE: the log's signed statement of {said.request_id} up to size {said.size:,} "
        f"leaves out {len(audit.missing)} public event(s) of the request, at "
        f"{[e['position'] for e in audit.missing]}"
    )
    typer.echo("--- the statement, signed by the log key ---")
    typer.echo(audit.note, nl=False)
    for event in audit.missing:
        typer.echo(f"--- the event left out (position {event['position']}), with its proof ---")
        typer.echo(orjson.dumps(event, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
    raise typer.Exit(code=3)


def _bar(description: str, total: int | None) -> Progress:
    return Progress(
        f"[progress.description]{description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    )


async def _verify(runtime: Runtime, *, show_progress: bool) -> LogReport:
    store = runtime.store
    # the key only if there is one: verifying must not create a key file
    has_key = runtime.settings.signing_key_file.exists()
    key = runtime.signer.verifier_key() if has_key else None
    if not show_progress:
        return await verify_log(store, key)
    total, _ = await store.head()
    with _bar("verifying", total) as bar:
        task = bar.add_task("verifying", total=total)
        return await verify_log(store, key, progress=lambda done: bar.update(task, completed=done))


@app.command()
def checkpoint() -> None:
    """Extend the Merkle tree to the log's head and sign a checkpoint of it now (not on the
    wall-clock grid of the checkpoint writer: an operator's decision, SPEC §7)."""

    async def run(runtime: Runtime) -> str:
        await runtime.tree.sign_checkpoint(
            runtime.signer, runtime.settings.log_origin, clock=runtime.clock
        )
        latest = await runtime.tree.latest_checkpoint()
        return latest.note if latest else ""

    note = _on_runtime(run)
    if not note:
        typer.echo("the log is empty: nothing to sign", err=True)
        raise typer.Exit(code=1)
    typer.echo(note, nl=False)


@app.command("export")
def export_command(file: Path = typer.Argument(..., help="where to write the JSON Lines")) -> None:
    """Write the whole log as JSON Lines, one event per line in wire form."""

    async def run(runtime: Runtime) -> int:
        with file.open("wb") as out:
            return await export_log(runtime.store, out)

    typer.echo(f"exported {_on_runtime(run)} events to {file}")


@app.command("import")
def import_command(file: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Import a log exported by `docket export` into an empty database, verifying every
    hash first; nothing is written if anything is wrong."""

    async def run(runtime: Runtime) -> int:
        store = runtime.store
        if sys.stdout.isatty():
            with _bar("checking", None) as bar:
                task = bar.add_task("checking", total=None)
                count = await import_log(
                    store, file, progress=lambda done: bar.update(task, completed=done)
                )
        else:
            count = await import_log(store, file)
        await runtime.tree.extend()
        await runtime.runner.catch_up()
        return count

    try:
        count = _on_runtime(run)
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
    # A saved /public/log-key: its first line is the Ed25519 key (an ML-DSA-44 one may follow).
    key_text = Path(key).read_text().strip().split("\n")[0] if Path(key).is_file() else key.strip()
    with file.open("rb") as lines:
        try:
            report = verify_bundle(lines, checkpoint.read_text(), key_text)
        except BundleError as error:
            typer.echo(f"FAILED: {error}")
            raise typer.Exit(code=1) from error
    typer.echo(str(report))


#: SPEC §5's read model that is the log itself: no table, nothing to rebuild.
HISTORY_FROM_THE_LOG = "request_history"


@app.command()
def rebuild(
    projection: str | None = typer.Argument(
        None,
        help="request_state, holds or request_intervals (request_history is read from the "
        "log); all when left out",
    ),
) -> None:
    """Rebuild the read models from position 0 (all of them, or PROJECTION)."""
    if projection == HISTORY_FROM_THE_LOG:
        typer.echo(
            "request_history is read from each request's stream in the log (migration 0014): "
            "there is nothing to rebuild"
        )
        return
    names = [projection] if projection else None
    show_progress = sys.stdout.isatty()
    try:
        reached = _on_runtime(lambda runtime: _rebuild(runtime, names, show_progress=show_progress))
    except (ValueError, ProjectionLockBusy) as error:
        typer.echo(f"rebuild refused: {error}", err=True)
        raise typer.Exit(code=1) from error
    except RebuildWorkerFailed as error:  # the tables, rows and checkpoints are as they were
        typer.echo(f"rebuild failed, nothing changed: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(f"rebuilt {projection or 'all projections'} up to position {reached}")


async def _rebuild(runtime: Runtime, names: list[str] | None, *, show_progress: bool) -> int:
    reached = await _rebuilt(runtime, names, show_progress=show_progress)
    await refresh_statistics(runtime.engine, rebuilt_tables(names))
    return reached


def rebuilt_tables(names: list[str] | None) -> list[str]:
    """The tables of the projections `names` (all when None)."""
    return [
        table.name
        for projection in default_projections()
        if names is None or projection.name in names
        for table in projection.tables
    ]


async def _rebuilt(runtime: Runtime, names: list[str] | None, *, show_progress: bool) -> int:
    runner = runtime.runner
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


@app.command()
def work() -> None:
    """Run the background work without serving HTTP: the projection worker, the checkpoint
    writer and, with DOCKET_WITNESSES, the witnesses' submitter (for API processes started
    with DOCKET_SERVE_BACKGROUND=false). Stops on SIGINT or SIGTERM."""
    settings = get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)

    async def run(runtime: Runtime) -> None:
        _ = runtime.signer  # a missing or bad key stops the worker here, not at a checkpoint
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        async with bootstrap.workers(runtime):
            settle_after_start()
            structlog.get_logger("docket.work").info("docket.work.started")
            await stop.wait()
        structlog.get_logger("docket.work").info("docket.work.stopped")

    _on_runtime(run)


token_app = typer.Typer(help="Bearer tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="secretariat, auditor or applicant"),
    name: str = typer.Option(..., help="who the token is for"),
    org: str | None = typer.Option(None, help="the organisation an applicant token is bound to"),
) -> None:
    """Create a token and print it alone on standard output, once."""
    from service.platform.tokens import ROLES, create_token

    if role not in ROLES:
        typer.echo(f"--role must be one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(code=2)

    async def run(runtime: Runtime) -> str:
        return await create_token(runtime.engine, role, name, org)

    try:
        typer.echo(_on_runtime(run))
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from error


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from service.platform.tokens import list_tokens

    async def run(runtime: Runtime) -> None:
        for row in await list_tokens(runtime.engine):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "live"
            org = f" org={row.org}" if row.org else ""
            typer.echo(f"{row.id}\t{row.role}\t{row.name}{org}\t{state}")

    _on_runtime(run)


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Revoke a token by its id."""
    from service.platform.tokens import revoke_token

    async def run(runtime: Runtime) -> bool:
        return await revoke_token(runtime.engine, token_id)

    if not _on_runtime(run):
        typer.echo(f"no live token {token_id}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"revoked {token_id}")


app.add_typer(receipt_app, name="receipt")

roster_app = typer.Typer(help="The committee's roster.", no_args_is_help=True)
app.add_typer(roster_app, name="roster")
app.add_typer(key_app, name="key")


def _with_commands(work: Callable[[CommandService], Awaitable[T]]) -> T:
    """Run `work` on the runtime's command service, then bring the projections up to it."""

    async def run(runtime: Runtime) -> T:
        result = await work(runtime.commands)
        await runtime.runner.catch_up()
        return result

    return _on_runtime(run)


@roster_app.command("load")
def roster_load() -> None:
    """Seat the Security Council's members for 2025 and 2026 (skips those seated)."""
    from service.cli.demo import load_roster

    added = _with_commands(load_roster)
    typer.echo(f"roster: {added} members seated")


@app.command()
def demo() -> None:
    """Load a realistic scenario: 30+ requests over 2025-2026, every status."""
    from service.cli.demo import load_demo

    async def run(commands: Any) -> dict[str, str]:
        if sys.stdout.isatty():
            with Progress(BarColumn(), MofNCompleteColumn(), transient=True) as bar:
                task = bar.add_task("demo", total=None)
                return await load_demo(
                    commands, lambda done, total: bar.update(task, completed=done, total=total)
                )
        return await load_demo(commands)

    try:
        ids = _with_commands(run)
    except Exception as error:  # a second demo on the same database breaks the rules
        typer.echo(f"demo not loaded: {error}", err=True)
        raise typer.Exit(code=1) from error
    # SPEC §8: signed at once, so that the public log and receipts work before `serve`.
    _on_runtime(
        lambda rt: rt.tree.sign_checkpoint(rt.signer, rt.settings.log_origin, clock=rt.clock)
    )
    typer.echo(f"demo: {len(ids)} requests loaded, checkpoint signed")


# Command groups kept in their own modules (imported here, last, to register them).
from service.cli.erase import erase_command  # noqa: E402
from service.monitor.cli import monitor  # noqa: E402
from service.witness.cli import witness_app  # noqa: E402

app.add_typer(witness_app, name="witness")
app.command("monitor")(monitor)
app.command("erase")(erase_command)
