"""Alembic environment: one history for PostgreSQL and SQLite, run over the async engine.

The database URL comes from `config.attributes["database_url"]` (set by
`service.platform.db.alembic_config`), else `sqlalchemy.url`, else `DOCKET_DATABASE_URL`.
A caller already holding a connection may pass it as `config.attributes["connection"]`.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from events.engines import create_engine, is_sqlite
from events.schema import metadata

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from service.platform.settings import get_settings

    return get_settings().database_url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    sqlite = connection.dialect.name == "sqlite" if connection is not None else is_sqlite(url or "")
    context.configure(
        connection=connection,
        url=url,
        target_metadata=metadata,
        render_as_batch=sqlite,
        # We emit SQLite's BEGIN ourselves (events.engines), so its DDL is transactional too:
        # a failed upgrade leaves the schema as it was.
        transactional_ddl=True,
        compare_type=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    """Emit SQL to standard output instead of running it."""
    _configure(url=_database_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_database_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
