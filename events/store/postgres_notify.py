"""The PostgreSQL backend's `ChangeWaiter`: LISTEN on a dedicated connection.

The trigger of migration 0003 sends `pg_notify('docket_events', <max position>)` from
every statement that inserts into `events`; PostgreSQL delivers it at commit, so a wake-up
never precedes the rows it announces. An idle process then costs the database nothing
but the one idle connection (and the follower's safety read every `idle_read_s`).

A wake-up is latched: a notification that arrives while nobody waits makes the next wait
return at once, so none is lost between the follower's read and its next wait. When the
connection drops, waits return at once (the follower reads, which is always correct) and
after `reconnect_s` the waiter listens again and wakes once more for what it may have
missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

CHANNEL = "docket_events"
log = structlog.get_logger("docket.notify")

Connect = Callable[[], Awaitable[asyncpg.Connection]]


def dsn_connect(dsn: str, *, timeout_s: float = 10.0) -> Connect:
    """A connection factory for a libpq DSN (`postgresql://…`, no SQLAlchemy driver)."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, timeout=timeout_s)

    return connect


class PostgresNotifyWaiter:
    """Wakes on `NOTIFY docket_events`; `wait_for_change(seconds)` for a `LogFollower`."""

    def __init__(
        self, connect: Connect, *, channel: str = CHANNEL, reconnect_s: float = 1.0
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._reconnect_s = reconnect_s
        self._conn: asyncpg.Connection | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self.notified_position: int | None = None  # the last position announced
        self.notifications = 0
        self.connects = 0

    async def start(self) -> None:
        """Listen now (else at the first wait): appends after this wake a waiter."""
        await self._ensure_listening()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.remove_termination_listener(self._on_terminated)  # not a lost connection
            with contextlib.suppress(Exception):
                await conn.remove_listener(self._channel, self._on_notify)
            await conn.close()

    async def __aenter__(self) -> PostgresNotifyWaiter:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def nudge(self) -> None:
        """This process appended: its NOTIFY comes at commit; waking on both would read
        the log twice for one batch."""

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def wait_for_change(self, seconds: float) -> None:
        """Until a notification (perhaps one latched before the call) or `seconds`."""
        if not await self._ensure_listening():
            # no connection: behave like a poll, so that the follower keeps reading
            await asyncio.sleep(min(seconds, self._reconnect_s))
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()
        self._changed.clear()

    async def _ensure_listening(self) -> bool:
        if self.listening:
            return True
        async with self._lock:
            if self.listening:
                return True
            loop = asyncio.get_running_loop()
            if loop.time() < self._retry_at:
                return False
            try:
                conn = await self._connect()
                await conn.add_listener(self._channel, self._on_notify)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                self._retry_at = loop.time() + self._reconnect_s
                log.warning("docket.notify.listen_failed", error=str(error)[:200])
                return False
            conn.add_termination_listener(self._on_terminated)
            self._conn = conn
            self.connects += 1
            if self.connects > 1:
                self._changed.set()  # events may have been committed while we were away
            return True

    def _on_notify(self, _conn: asyncpg.Connection, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        if payload.isdigit():
            position = int(payload)
            if self.notified_position is None or position > self.notified_position:
                self.notified_position = position
        self._changed.set()

    def _on_terminated(self, _conn: asyncpg.Connection) -> None:
        log.warning("docket.notify.connection_lost")
        self._conn = None
        self._changed.set()
