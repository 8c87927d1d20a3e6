"""`docket report`: the committee's figures as of a moment, from the database or offline
from a verified export, the same bytes either way (SPEC §8).

On the server the report reads the log up to the *published* checkpoint
(`service.queries.publication.published_checkpoint`: the newest one signed, or with witnesses the
newest one cosigned by a quorum), so that the checkpoint an auditor's report names is one
the witnesses vouched for; with `--bundle` it first verifies the export against
`--checkpoint` and `--key` (hash chain, Merkle root, signature) and reads the same events
from it, with no database.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import typer

from events import upcasting
from events.bundle import BundleError, verify_bundle
from events.checkpoints import CheckpointError, parse_checkpoint
from events.model import RecordedEvent
from events.transfer import ImportRefused, parse_line
from projections.history import request_id_of
from projections.report import Report, ReportCheckpoint, ReportRefused, report
from service import bootstrap
from service.platform import moments
from service.platform.settings import get_settings
from service.public.report import RENDERERS
from service.queries.publication import published_checkpoint
from service.runtime import Runtime


class Format(StrEnum):
    html = "html"
    csv = "csv"
    json = "json"


def parse_as_of(text: str, now: datetime) -> datetime:
    """An RFC 3339 time, or a date `YYYY-MM-DD` meaning the last microsecond of that day
    in UTC (`service.platform.moments`, as the API's `as_of`), between 2000-01-01 and `now`: a
    usage error (exit 2) otherwise."""
    try:
        return moments.as_of_within_bounds(text, now)
    except moments.OutOfBounds as error:
        raise typer.BadParameter(str(error), param_hint="--as-of") from None
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an RFC 3339 time with a zone nor a date YYYY-MM-DD",
            param_hint="--as-of",
        ) from None


def _stamp(note: str) -> ReportCheckpoint:
    checkpoint = parse_checkpoint(note)
    return ReportCheckpoint(checkpoint.origin, checkpoint.size, checkpoint.root.hex())


async def report_from_runtime(
    runtime: Runtime, as_of: datetime, at_position: int | None
) -> tuple[Report, str]:
    """The report from the log of `runtime`, stamped with its published checkpoint, and
    that checkpoint's note (with the witnesses' cosignatures, when it has any)."""
    published = await published_checkpoint(runtime)
    if published is None:
        if runtime.settings.witnesses:
            raise ReportRefused(
                "no checkpoint cosigned by a quorum of the witnesses yet: "
                "nothing is published to stamp the report with"
            )
        raise ReportRefused("no checkpoint signed yet: run `docket checkpoint` first")
    stamp = _stamp(published.note)
    limit = stamp.size if at_position is None else min(at_position, stamp.size)
    events: list[RecordedEvent] = []
    async for event in runtime.store.iter_all(after=0, batch=10_000, upcast=True):
        if event.position > limit:
            break
        # what `report` would skip anyway; keeps memory to the events that count
        if event.occurred_at <= as_of and request_id_of(event.stream_id) is not None:
            events.append(event)
    return report(events, as_of, at_position, stamp), published.note


def _bundle_events(bundle: Path) -> Iterator[RecordedEvent]:
    with bundle.open("rb") as lines:
        for line_no, line in enumerate(lines, start=1):
            if line.strip():
                yield upcasting.upcast(parse_line(line, line_no))


def report_from_bundle(
    bundle: Path, checkpoint_note: str, verifier_key: str, as_of: datetime, at_position: int | None
) -> Report:
    """The report from an export, after verifying it against the signed checkpoint."""
    with bundle.open("rb") as lines:
        verified = verify_bundle(lines, checkpoint_note, verifier_key)
    checkpoint = verified.checkpoint
    stamp = ReportCheckpoint(checkpoint.origin, checkpoint.size, checkpoint.root.hex())
    return report(_bundle_events(bundle), as_of, at_position, stamp)


def report_command(
    as_of: str = typer.Option(
        ..., "--as-of", help="business time: RFC 3339, or YYYY-MM-DD for the end of that day (UTC)"
    ),
    at_position: int | None = typer.Option(
        None, "--at-position", min=0, help="what the log held at this position (default: all)"
    ),
    fmt: Format = typer.Option(Format.html, "--format", help="html, csv or json"),
    output: Path | None = typer.Option(None, "--output", help="write here (default: stdout)"),
    bundle: Path | None = typer.Option(
        None, "--bundle", exists=True, dir_okay=False, help="offline: an export (JSON Lines)"
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", exists=True, dir_okay=False, help="offline: the signed checkpoint"
    ),
    key: str | None = typer.Option(
        None, "--key", help="offline: the log's verifier key, or a file holding it"
    ),
    save_checkpoint: Path | None = typer.Option(
        None,
        "--save-checkpoint",
        help="on the server: also write the published checkpoint note used here",
    ),
) -> None:
    """The committee's figures as of a moment, stamped with the checkpoint they were
    computed from; with --bundle, offline and byte-identical to the server's."""
    moment = parse_as_of(as_of, bootstrap.utc_now())
    try:
        if bundle is not None:
            if checkpoint is None or key is None:
                raise typer.BadParameter("--bundle needs --checkpoint and --key")
            key_text = Path(key).read_text().strip().split("\n")[0] if Path(key).is_file() else key
            made = report_from_bundle(
                bundle, checkpoint.read_text(), key_text.strip(), moment, at_position
            )
        else:
            if checkpoint is not None or key is not None:
                raise typer.BadParameter("--checkpoint and --key go with --bundle")
            made, note = asyncio.run(_server_report(moment, at_position))
            if save_checkpoint is not None:
                save_checkpoint.write_text(note)
    except (ReportRefused, BundleError, ImportRefused, CheckpointError) as error:
        typer.echo(f"report refused: {error}", err=True)
        raise typer.Exit(code=1) from None
    body = RENDERERS[fmt.value](made)
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(body)
        typer.echo(f"wrote the report as of {made.document()['as_of']} to {output}", err=True)


async def _server_report(as_of: datetime, at_position: int | None) -> tuple[Report, str]:
    async with bootstrap.build(get_settings()) as runtime:
        return await report_from_runtime(runtime, as_of, at_position)
