"""Every migration goes down as well as up, on both backends: an empty database migrated
to head, down to nothing step by step, and up again has the same tables, columns and
indexes as after the first upgrade (an operator rolling a release back runs these)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from service.platform.db import alembic_config, create_engine, upgrade_to_head
from tests.conftest import run_async


def _shape(conn: Connection) -> dict[str, Any]:
    found = inspect(conn)
    return {
        table: (
            sorted((c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)),
            sorted((i["name"] or "", tuple(i["column_names"])) for i in found.get_indexes(table)),
        )
        for table in found.get_table_names()
    }


def schema_of(url: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_shape)
        finally:
            await engine.dispose()

    return run_async(read)


def test_every_migration_goes_down_and_up_again(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    revisions = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()]
    upgrade_to_head(empty_database_url)
    at_head = schema_of(empty_database_url)
    for revision in revisions[1:]:  # newest first: one step down at a time
        command.downgrade(config, revision)
    command.downgrade(config, "base")
    assert set(schema_of(empty_database_url)) <= {"alembic_version"}
    upgrade_to_head(empty_database_url)
    assert schema_of(empty_database_url) == at_head
