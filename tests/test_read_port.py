"""The read port, checked on the source and on a database: the API's handlers hold no SQL
(they call `service.queries`), nothing outside the store queries the `events` table, and
a `ReadConnection` runs SELECTs and nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from events.read_engine import ReadEngine
from events.store import EventStore
from projections.tables import projection_checkpoints

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("events", "projections", "service")
STORE = "events/store/"

#: A connection's calls that run SQL (SQLAlchemy's builders need its import, refused too;
#: its errors, `sqlalchemy.exc`, may be imported: the API answers them).
RUNS_SQL = {"execute", "scalar", "scalars", "stream", "exec_driver_sql"}
#: SQL naming the log's table in a string.
RAW_EVENTS_SQL = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)\s+events\b", re.IGNORECASE)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def _sql_in(path: Path) -> list[str]:
    """Where the module at `path` imports SQLAlchemy or runs a statement."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            module = node.module if isinstance(node, ast.ImportFrom) else None
            found += [
                f"{_where(path)}:{node.lineno} imports {name}"
                for name in [*names, *([module] if module else [])]
                if name.split(".")[0] == "sqlalchemy" and name != "sqlalchemy.exc"
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNS_SQL
        ):
            found.append(f"{_where(path)}:{node.lineno} calls {node.func.attr}")
    return found


def test_no_sql_in_the_api() -> None:
    found = [line for path in _modules("service/api") for line in _sql_in(path)]
    assert found == []


def test_the_events_table_is_queried_only_by_the_store() -> None:
    found: list[str] = []
    for package in PACKAGES:
        for path in _modules(package):
            where = _where(path)
            if where.startswith(STORE):
                continue
            tree = ast.parse(path.read_text(), where)
            found += [
                f"{where}:{node.lineno} imports the events table"
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)
                and node.module == "events.schema"
                and any(alias.name == "events" for alias in node.names)
            ]
            found += [
                f"{where}:{node.lineno} names the events table in SQL"
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and RAW_EVENTS_SQL.search(node.value)
            ]
    assert found == []


def test_only_the_read_port_reaches_under_a_read_connection() -> None:
    found = [
        f"{_where(path)}:{node.lineno}"
        for package in PACKAGES
        for path in _modules(package)
        if not _where(path).startswith(("service/queries/", "events/read_engine.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and node.attr == "projection_connection"
    ]
    assert found == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    handler = tmp_path / "handler.py"
    handler.write_text(
        "from sqlalchemy import select\n"
        "async def read(conn):\n"
        "    return await conn.execute(select(1))\n"
    )
    assert len(_sql_in(handler)) == 2  # the import, the execute
    assert RAW_EVENTS_SQL.search("SELECT max(position) FROM events")
    assert not RAW_EVENTS_SQL.search("FROM events_archive")


async def test_a_read_connection_refuses_a_write(database_url: str) -> None:
    store = await EventStore.open(database_url)
    reads = ReadEngine(store.engine)
    try:
        async with reads.connect() as conn:
            assert await EventStore.applied_position(conn) == 0
            checkpoints = projection_checkpoints
            for write in (
                sa.insert(checkpoints).values(name="x", position=1),
                sa.update(checkpoints).values(position=2),
                sa.delete(checkpoints),
                sa.text("DELETE FROM projection_checkpoints"),
            ):
                # mypy refuses each (strict: an ignore it did not need would be an error)
                with pytest.raises(TypeError, match="SELECTs only"):
                    await conn.execute(write)  # type: ignore[arg-type]
                with pytest.raises(TypeError, match="SELECTs only"):
                    await conn.scalar(write)  # type: ignore[arg-type]
            assert await conn.scalar(sa.select(sa.func.count()).select_from(checkpoints)) == 0
    finally:
        await store.close()
