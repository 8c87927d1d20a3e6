"""The layer rule (docs/ARCHITECTURE.md), checked on the source: `events/` imports nothing
of `projections/` or `service/`, `projections/` nothing of `service/`, and only the store
backends (and their helper modules) name a database driver or its raw connection."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Each layer, and the packages above it that it must not import.
FORBIDDEN = {"events": ("projections", "service"), "projections": ("service",), "service": ()}

#: The modules allowed to import a driver or reach the driver's connection.
BACKEND_MODULES = {
    "events/store/postgres.py",
    "events/store/postgres_ids.py",
    "events/store/postgres_notify.py",
    "events/store/postgres_sql.py",
    "events/store/postgres_tables.py",
    "events/store/sqlite.py",
    "events/store/sqlite_tables.py",
}
DRIVERS = ("asyncpg", "aiosqlite")


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downward(package: str) -> None:
    upward = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in sorted(_imported(ast.parse(path.read_text(), str(path))))
        if _top(name) in FORBIDDEN[package]
    ]
    assert upward == []


def test_only_the_store_backends_touch_a_driver() -> None:
    found: list[str] = []
    for package in FORBIDDEN:
        for path in _modules(package):
            where = str(path.relative_to(ROOT))
            if where in BACKEND_MODULES:
                continue
            tree = ast.parse(path.read_text(), where)
            found.extend(
                f"{where} imports {name}"
                for name in sorted(_imported(tree))
                if _top(name) in DRIVERS
            )
            found.extend(
                f"{where}:{node.lineno} uses driver_connection"
                for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and node.attr == "driver_connection"
            )
    assert found == []


#: Where naming a dialect is the point: URLs and engine set-up, the one column type that
#: stores times as text on SQLite, and the map from a URL to its backend.
DIALECT_MODULES = {"events/engines.py", "events/schema.py", "events/store/backends.py"}


def test_no_dialect_checks_outside_the_backends() -> None:
    found = [
        f"{where}:{node.lineno} reads the dialect's name"
        for package in FORBIDDEN
        for path in _modules(package)
        if (where := str(path.relative_to(ROOT))) not in BACKEND_MODULES | DIALECT_MODULES
        for node in ast.walk(ast.parse(path.read_text(), where))
        if isinstance(node, ast.Attribute)
        and node.attr in {"name", "get_backend_name"}
        and isinstance(node.value, ast.Attribute | ast.Name)
        and getattr(node.value, "attr", getattr(node.value, "id", None)) == "dialect"
    ]
    assert found == []


def test_the_rule_sees_a_violation() -> None:
    # the walk itself: an upward import and a driver import are found
    tree = ast.parse("import asyncpg\nfrom service.errors import DocketError\n")
    assert {_top(name) for name in _imported(tree)} == {"asyncpg", "service"}
