"""One bootstrap: the app's lifespan and the CLI's commands run on the same typed `Runtime`
built by `service.bootstrap.build`, on each backend."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from typer.testing import CliRunner

from service import bootstrap, cli
from service.app import create_app
from service.commands.outcome import Meta
from service.platform.settings import Settings, get_settings
from service.platform.tokens import Caller
from service.public.source import SqlPublicSource
from service.rules import commands as cmd
from service.runtime import Runtime


def _settings(database_url: str, tmp_path: Path, **more: object) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        signing_key_file=tmp_path / "signing.key",
        log_origin="docket.test/log",
        **more,  # type: ignore[arg-type]
    )


def _field_types(runtime: Runtime) -> dict[str, type]:
    return {f.name: type(getattr(runtime, f.name)) for f in dataclasses.fields(runtime)}


def test_the_app_and_the_cli_get_the_same_typed_runtime(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Runtime] = []
    build = bootstrap.build

    @asynccontextmanager
    async def recording(settings: Settings, **given: Any) -> AsyncIterator[Runtime]:
        async with build(settings, **given) as runtime:
            built.append(runtime)
            yield runtime

    monkeypatch.setattr(bootstrap, "build", recording)
    key_file = tmp_path / "signing.key"
    monkeypatch.setenv("DOCKET_DATABASE_URL", database_url)
    monkeypatch.setenv("DOCKET_ENVIRONMENT", "test")
    monkeypatch.setenv("DOCKET_SIGNING_KEY_FILE", str(key_file))
    monkeypatch.setenv("DOCKET_LOG_ORIGIN", "docket.test/log")
    get_settings.cache_clear()
    try:
        loaded = CliRunner().invoke(cli.app, ["roster", "load"])
    finally:
        get_settings.cache_clear()
    assert loaded.exit_code == 0, loaded.output
    assert "members seated" in loaded.output
    # a command that signs nothing leaves the key file alone (the signer is built lazily)
    assert not key_file.exists()

    async def serve() -> int:
        app = create_app(_settings(database_url, tmp_path), background=False)
        async with app.router.lifespan_context(app):
            assert app.state.runtime is built[-1]
            version, _ = await app.state.runtime.commands.roster()
            return version

    # the app sees what the CLI wrote, and reads its key at start
    assert asyncio.run(serve()) > 0
    assert key_file.exists()

    cli_runtime, app_runtime = built
    assert type(cli_runtime) is type(app_runtime) is Runtime
    assert _field_types(cli_runtime) == _field_types(app_runtime)
    hints = get_type_hints(Runtime)
    for name, kind in _field_types(app_runtime).items():
        hint = hints[name]
        if isinstance(hint, type) and not getattr(hint, "_is_protocol", False):
            assert issubclass(kind, hint), (name, kind, hint)
    assert callable(app_runtime.clock)
    assert not hasattr(app_runtime, "extras")


async def test_build_wires_each_part_once(database_url: str, tmp_path: Path) -> None:
    async with bootstrap.build(_settings(database_url, tmp_path)) as runtime:
        assert runtime.engine is runtime.store.engine
        assert runtime.read_engine.reads(runtime.engine)
        assert runtime.tree.store is runtime.store
        assert isinstance(runtime.public_source, SqlPublicSource)
        assert runtime.public_source.engine is runtime.read_engine
        assert runtime.commands is runtime.commands  # built once, on first use
        assert runtime.commands.store is runtime.store
        assert runtime.commands.clock is runtime.clock
        assert runtime.tree.clock is runtime.clock  # checkpoints are stamped by it
        assert runtime.checkpoint_writer.signer is runtime.signer
        assert runtime.checkpoint_writer.tree is runtime.tree
        with pytest.raises(dataclasses.FrozenInstanceError):
            runtime.store = runtime.store  # type: ignore[misc]


async def test_a_clock_given_is_the_runtimes_one(database_url: str, tmp_path: Path) -> None:
    def fixed() -> datetime:
        return datetime(2031, 12, 31, 23, 59, tzinfo=UTC)

    async with bootstrap.build(_settings(database_url, tmp_path), clock=fixed) as runtime:
        assert runtime.clock is fixed
        assert runtime.commands.clock is runtime.tree.clock is fixed
    app = create_app(_settings(database_url, tmp_path), background=False, clock=fixed)
    async with app.router.lifespan_context(app):
        assert app.state.runtime.clock is fixed


async def test_a_read_database_gets_its_own_engine(database_url: str, tmp_path: Path) -> None:
    settings = _settings(database_url, tmp_path, read_database_url=database_url)
    async with bootstrap.build(settings) as runtime:
        assert not runtime.read_engine.reads(runtime.engine)
        assert isinstance(runtime.public_source, SqlPublicSource)
        assert runtime.public_source.engine is runtime.read_engine
        assert await runtime.public_source.last_position() == 0


async def test_workers_run_while_inside_and_stop_after(database_url: str, tmp_path: Path) -> None:
    def running() -> set[str]:
        return {task.get_name() for task in asyncio.all_tasks() if not task.done()}

    settings = _settings(database_url, tmp_path, checkpoint_interval_events=1)
    meta = Meta(caller=Caller("tok_test", "test", "secretariat"), correlation_id="test")
    async with bootstrap.build(settings) as runtime:
        async with bootstrap.workers(runtime):
            assert {"docket.projections", "docket.checkpoints"} <= running()
            seated = await runtime.commands.run(
                cmd.SeatMember(member="FRA", term_start="1945-10-24"), meta
            )
            position = seated.body["position"]
            # the workers do their work: the projections reach the append, a checkpoint
            # covers it (then both are idle, so none is cut off inside a query)
            for _ in range(1500):
                checkpoint = await runtime.tree.latest_checkpoint()
                reached = min((await runtime.runner.checkpoints()).values())
                if checkpoint is not None and reached >= position:
                    break
                await asyncio.sleep(0.02)
            assert checkpoint is not None and checkpoint.tree_size >= position
            assert reached >= position
        assert not {"docket.projections", "docket.checkpoints"} & running()


async def test_subscribers_arriving_together_start_the_follower_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with bootstrap.build(_settings(database_url, tmp_path)) as runtime:
        reads = 0
        head = type(runtime.store).head

        async def counted(store: object) -> tuple[int, str]:
            nonlocal reads
            reads += 1
            return await head(store)  # type: ignore[arg-type]

        monkeypatch.setattr(type(runtime.store), "head", counted)
        followers = await asyncio.gather(*(runtime.following() for _ in range(50)))
        assert reads == 1 and all(f is runtime.follower for f in followers)
        assert runtime.follower.running
