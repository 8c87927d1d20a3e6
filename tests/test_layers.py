"""The layer rule (docs/ARCHITECTURE.md), checked on the source: `events/` imports nothing
of `projections/` or `service/`, `projections/` nothing of `service/`, and only the store
backends (and their helper modules) name a database driver or its raw connection.

Inside `service/`, the packages (and the few top-level modules) are layers too, and
imports go only down them; the witness and the monitor, programs of their own, import
`events/` and `service.platform` only; `service/` keeps at most ten top-level modules
and every package says what it is."""

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
    "events/store/postgres_chain.py",
    "events/store/postgres_errors.py",
    "events/store/postgres_ids.py",
    "events/store/postgres_notify.py",
    "events/store/postgres_sql.py",
    "events/store/postgres_tables.py",
    "events/store/postgres_writer.py",
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


#: The layers of `service/`, lowest first: a module imports its own layer and those before
#: it. A top-level module is a layer of its own. `runtime` holds the cosigning task
#: (publishing/) and the public read port (public/); `queries/` reads through a Runtime.
SERVICE_LAYERS = (
    "errors",
    "data",
    "platform",
    "rules",
    "commands",
    "public",
    "publishing",
    "runtime",
    "bootstrap",
    "queries",
    "api",
    "app",
    "witness",
    "monitor",
    "cli",
    "main",
)
#: Programs of their own (tessera's `cmd/`): what of Docket they may import besides
#: themselves. Only `cli` (their commands) imports them.
PROGRAMS = {"witness": ("events", "service.platform"), "monitor": ("events", "service.platform")}
FIRST_PARTY = ("events", "projections", "service")
MAX_TOP_LEVEL_MODULES = 10


def _layer(path: Path) -> str | None:
    """The layer of a module of `service/` (None: `service/__init__.py`)."""
    parts = path.relative_to(ROOT / "service").with_suffix("").parts
    return None if parts == ("__init__",) else parts[0]


def _imported_names(tree: ast.AST) -> set[str]:
    """Modules and names imported, `from a import b` as `a.b` (a module or not)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _service_layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "service" and len(parts) > 1 else None


def _service_imports() -> list[tuple[str, str, str]]:
    """(module's path, its layer, a name it imports) for each first-party import."""
    found = []
    for path in _modules("service"):
        layer = _layer(path)
        if layer is None:
            continue
        for name in sorted(_imported_names(ast.parse(path.read_text(), str(path)))):
            if _top(name) in FIRST_PARTY:
                found.append((str(path.relative_to(ROOT)), layer, name))
    return found


def test_every_service_module_has_a_layer() -> None:
    layers = {layer for path in _modules("service") if (layer := _layer(path)) is not None}
    assert sorted(layers - set(SERVICE_LAYERS)) == []


def test_service_imports_only_downward() -> None:
    rank = {layer: i for i, layer in enumerate(SERVICE_LAYERS)}
    upward = [
        f"{where} ({layer}) imports {name}"
        for where, layer, name in _service_imports()
        if (target := _service_layer_of(name)) is not None
        and rank.get(target, len(rank)) > rank[layer]
    ]
    assert upward == []


def test_witness_and_monitor_are_programs_of_their_own() -> None:
    found = [
        f"{where} imports {name}"
        for where, layer, name in _service_imports()
        if layer in PROGRAMS and not name.startswith((*PROGRAMS[layer], f"service.{layer}."))
    ]
    found += [
        f"{where} ({layer}) imports {name}"
        for where, layer, name in _service_imports()
        if _service_layer_of(name) in PROGRAMS and layer not in {"cli", _service_layer_of(name)}
    ]
    assert found == []


def test_service_has_few_top_level_modules() -> None:
    top = sorted(path.name for path in (ROOT / "service").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("package", ["service", "projections"])
def test_every_package_says_what_it_is(package: str) -> None:
    silent = [
        str(init.relative_to(ROOT))
        for init in sorted((ROOT / package).glob("*/**/__init__.py"))
        if ast.get_docstring(ast.parse(init.read_text())) is None
    ]
    assert silent == []


def test_the_rule_sees_a_violation() -> None:
    # the walk itself: an upward import and a driver import are found
    tree = ast.parse("import asyncpg\nfrom service.errors import DocketError\n")
    assert {_top(name) for name in _imported(tree)} == {"asyncpg", "service"}
    # and inside service/: `from service import api` names the api layer
    names = _imported_names(ast.parse("from service import api\n"))
    assert {_service_layer_of(name) for name in names} == {"api"}
