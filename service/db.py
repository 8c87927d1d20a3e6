"""Alembic driven from code; the engines themselves live in `events.engines` (re-exported
here for the callers that still import them from `service.db`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from events.engines import (
    SQLITE_BUSY_TIMEOUT_MS,
    WRITER_OPTIONS,
    async_url,
    create_engine,
    is_postgres,
    is_sqlite,
    sync_url,
)

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "WRITER_OPTIONS",
    "alembic_config",
    "async_url",
    "create_engine",
    "is_postgres",
    "is_sqlite",
    "migrations_path",
    "refresh_statistics",
    "sync_url",
    "upgrade_to_head",
]


def migrations_path() -> Path:
    """The Alembic script directory, wherever the `migrations` package is installed."""
    return Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """An Alembic configuration for `url` that does not depend on the working directory."""
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s",
    )
    config.attributes["database_url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Run every migration not yet applied to `url`. Call it outside a running event loop."""
    command.upgrade(alembic_config(url), "head")


async def refresh_statistics(engine: AsyncEngine, tables: Sequence[str]) -> None:
    """After a bulk rewrite of `tables` (`docket rebuild`): the planner's statistics of
    what they hold now, and on PostgreSQL their visibility maps (`VACUUM (ANALYZE)`), so
    that reads plan on the new rows and index-only scans read no heap from the start
    instead of once autovacuum comes by (the reads as of a moment depend on both)."""
    quoted = [engine.dialect.identifier_preparer.quote(name) for name in tables]
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            # VACUUM runs outside a transaction
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for name in quoted:
                await autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {name}")
        return
    async with engine.begin() as conn:
        for name in quoted:
            await conn.exec_driver_sql(f"ANALYZE {name}")
