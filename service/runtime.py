"""What a running Docket holds: one typed `Runtime`, built by `service.bootstrap.build`
for the app and the command line alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from events.checkpoints import Signer
from events.cosignature import CosignerKey
from events.follower import LogFollower
from events.log_tree import CheckpointWriter, LogTree
from events.published import CosignatureLog
from events.read_engine import ReadEngine
from events.store import EventStore
from events.store.contract import ChangeWaiter
from projections.runner import ProjectionRunner
from service.commands.service import CommandService
from service.platform.event_stream import Framed
from service.platform.settings import Settings
from service.public.source import PublicSource
from service.publishing.cosigning import WITNESSING_LOCK_KEY, Cosigning


@dataclass(frozen=True)
class Runtime:
    """The parts of a running service, each built once (`service.bootstrap.build`).

    `signer`, `commands` and `checkpoint_writer` are built on first use: the signer
    reads (outside production, creates) the key file and the command service reads the
    holidays file, which a command that neither signs nor decides must leave alone.
    """

    settings: Settings
    store: EventStore
    #: the writer's engine (the store's): tokens, projection tables
    engine: AsyncEngine
    #: the engine of reads (`service.queries` take its connections): a replica when
    #: DOCKET_READ_DATABASE_URL is set, else `engine` seen through reads only
    read_engine: ReadEngine
    runner: ProjectionRunner
    tree: LogTree
    public_source: PublicSource
    clock: Callable[[], datetime]
    #: the one reader of new events of this process (`/v1/events/stream`, and the wake-up
    #: of the projection runner and the checkpoint writer), woken by `change_waiter`
    follower: LogFollower[Framed]
    change_waiter: ChangeWaiter
    _follower_start: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def following(self) -> LogFollower[Framed]:
        """The follower, started at the log's head if it is not running yet (once: the
        first subscribers of a process arriving together read the head once, not each)."""
        if not self.follower.running:
            async with self._follower_start:
                if not self.follower.running:
                    head, _ = await self.store.head()
                    await self.follower.start(after=head)
        return self.follower

    def appended(self) -> None:
        """This process appended: wake the projection runner and the follower now."""
        self.runner.notify()
        self.change_waiter.nudge()

    @cached_property
    def signer(self) -> Signer:
        """The log's checkpoint signer (`service.platform.keys.open_signing_key`: production never
        creates a key; development creates one, loudly)."""
        from service.platform.keys import open_mldsa_key, open_signing_key  # rules and CLI together

        return Signer(
            self.settings.log_origin,
            open_signing_key(self.settings),
            open_mldsa_key(self.settings),
        )

    @cached_property
    def commands(self) -> CommandService:
        """The secretariat's commands; each append wakes the projection runner."""
        return CommandService(
            self.store,
            self.settings,
            on_append=self.appended,
            catch_up=self.runner.catch_up,
            clock=self.clock,
        )

    @cached_property
    def checkpoint_writer(self) -> CheckpointWriter:
        """Signs a checkpoint every so many events and on the wall-clock grid of SPEC §4,
        by the runtime's clock (a background task); each one signed wakes the witnesses'
        submitter."""
        settings = self.settings
        return CheckpointWriter(
            self.tree,
            self.signer,
            settings.log_origin,
            settings.checkpoint_interval_events,
            settings.checkpoint_interval_seconds,
            on_signed=self.cosigning.wake if self.cosigning is not None else None,
            clock=self.clock,
        )

    @cached_property
    def cosignatures(self) -> CosignatureLog:
        """The witnesses' cosignatures kept in the log's database."""
        return CosignatureLog(self.engine)

    @cached_property
    def witness_keys(self) -> tuple[CosignerKey, ...]:
        """The configured witnesses' cosigner keys (DOCKET_WITNESSES)."""
        return tuple(w.cosigner_key() for w in self.settings.witnesses)

    @cached_property
    def cosigning(self) -> Cosigning | None:
        """Submits each signed checkpoint to the witnesses (a background task); None
        without witnesses."""
        settings = self.settings
        if not settings.witnesses:
            return None
        return Cosigning(
            self.tree,
            self.cosignatures,
            settings.witnesses,
            settings.effective_witness_quorum,
            timeout=settings.witness_timeout_seconds,
            retry_seconds=settings.witness_retry_seconds,
            lock=self.store.backend.session_lock(WITNESSING_LOCK_KEY),
        )


async def get_runtime(request: Request) -> Runtime:
    """The running service's `Runtime` (async: FastAPI runs a plain `def` dependency in a
    worker thread, a thread hop on every request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime
