"""Alembic driven from code; the engines themselves live in `events.engines` (re-exported
here for the callers that still import them from `service.platform.db`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations
from events.engines import (
    SQLITE_BUSY_TIMEOUT_MS,
    WRITER_OPTIONS,
    async_url,
    create_engine,
    is_postgres,
    is_sqlite,
    refresh_statistics,
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
