"""Regroup `service/` by capability and `projections/interval*.py` into one package (issue 25).

A re-runnable codemod, standard library only. Run it at the root of a checkout of any
later `main` (clean work tree):

    python3 tools/relayout.py            # move, rewrite, stage; then review and commit
    python3 tools/relayout.py --dry-run  # only say what it would do

It moves each module of `MOVES` (and of the one-line `RULES`) with `git mv`, gives each
package of `PACKAGES` an `__init__.py` with its docstring, then rewrites every reference
to a moved module in every tracked text file: `from X import`, `import X`, `X.attr` in
code, dotted names in strings and docs (monkeypatch targets, `python -m X`, `-c "..."`),
and file paths (`service/commands.py` in Markdown, Makefile, Dockerfile, comments).
Rewritten Python files get ruff's import sorting and formatting when `.venv/bin/ruff` is
there. Everything it changes is staged.

Running it twice is a no-op: a move whose source is gone and whose target exists is done.
A module it does not know (say a new `service/foo.py`) is reported and left in place; add
one line to `MOVES` or `RULES` and run it again.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

# --- the layout -------------------------------------------------------------------------

#: old path -> new path, from the repository's root.
MOVES: dict[str, str] = {
    # platform/: what every program of Docket stands on; imports events/ only
    "service/settings.py": "service/platform/settings.py",
    "service/logging.py": "service/platform/logging.py",
    "service/metrics.py": "service/platform/metrics.py",
    "service/collector.py": "service/platform/collector.py",
    "service/tokens.py": "service/platform/tokens.py",
    "service/db.py": "service/platform/db.py",
    "service/keys.py": "service/platform/keys.py",
    "service/moments.py": "service/platform/moments.py",
    "service/event_stream.py": "service/platform/event_stream.py",
    # rules/: the calendar is the rules' working-day arithmetic (no_objection_deadline)
    "service/calendar.py": "service/rules/calendar.py",
    # commands/
    "service/commands.py": "service/commands/service.py",
    "service/kept_states.py": "service/commands/kept_states.py",
    "service/erasure.py": "service/commands/erasure.py",
    # public/: pure rendering (and its read port, source.py); routes go to api/
    "service/report_render.py": "service/public/report.py",
    "service/public/routes.py": "service/api/public.py",
    "service/public/statistics.py": "service/api/public_statistics.py",
    # publishing/: what goes out to witnesses and the tlog clients
    "service/cosigning.py": "service/publishing/cosigning.py",
    "service/witness_metrics.py": "service/publishing/witness_metrics.py",
    "service/public_log.py": "service/publishing/public_log.py",
    # queries/: reads over the running service (they take a Runtime, so sit above it)
    "service/publication.py": "service/queries/publication.py",
    "service/receipts.py": "service/queries/receipts.py",
    "service/receipt_audit.py": "service/queries/receipt_audit.py",
    # api/
    "service/read_position.py": "service/api/read_position.py",
    # cli/: `service.cli:app` stays the console entry point
    "service/cli.py": "service/cli/__init__.py",
    "service/demo.py": "service/cli/demo.py",
    # monitor/: a program of its own
    "service/monitor.py": "service/monitor/monitor.py",
    # projections/intervals/
    "projections/intervals.py": "projections/intervals/steps.py",
}

#: (pattern on a tracked path, replacement): for modules not named in MOVES, e.g. one
#: added on another branch. One line per rule; the first that matches wins.
RULES: list[tuple[str, str]] = [
    (r"^service/monitor_(\w+)\.py$", r"service/monitor/\1.py"),  # monitor_cli.py
    (r"^service/(\w+)_cli\.py$", r"service/cli/\1.py"),  # receipt_cli.py, report_cli.py
    (r"^projections/interval_(\w+)\.py$", r"projections/intervals/\1.py"),  # six modules
]

#: package -> the docstring of its `__init__.py` (written when missing or different).
PACKAGES: dict[str, str] = {
    "service/platform": (
        "What every program of Docket stands on: settings, logging, metrics, the garbage\n"
        "collector's settling, tokens, database set-up and migrations, the signing key,\n"
        "the moments auditors name and the event stream's frames. Imports `events/` only."
    ),
    "service/commands": (
        "The secretariat's commands: `CommandService` loads, decides (`service.rules`),\n"
        "appends and answers, keeping folded states between commands. No HTTP imports."
    ),
    "service/publishing": (
        "The log going out: each signed checkpoint to the witnesses (cosigning), their\n"
        "metrics, and the tlog endpoints of the public log (checkpoint, hash tiles)."
    ),
    "service/queries": (
        "Reads over a running Docket (`service.runtime.Runtime`): the checkpoint the\n"
        "public may rely on, and the receipt of a public request proved against it."
    ),
    "service/public": (
        "Public outputs as pure rendering (SPEC §6–7): feeds, pages, SVG, validators,\n"
        "the report's formats, and `PublicSource`, the read port they render from. The\n"
        "routes that serve them are in `service.api.public`."
    ),
    "service/api": (
        "The HTTP API (SPEC §6): command and read routes, the public routes, auth,\n"
        "problems, middleware, read positions."
    ),
    "service/cli": (
        "`docket`, the command line (SPEC §8); `app` is the console entry point\n"
        "(`service.cli:app`). The log's, serving's and tokens' commands are functions\n"
        "here on one typer app; a larger command group has a module of its own\n"
        "(`report`, `receipt`, `demo`; `docket witness` and `docket monitor` live in\n"
        "their programs' packages)."
    ),
    "service/monitor": (
        "`docket monitor`, a program of its own: follow a Docket's published checkpoint\n"
        "and catch a rollback or a fork. Imports `events/` (and `service.platform`),\n"
        "never the API."
    ),
    "projections/intervals": (
        "The bitemporal projection as one package: a request's status and holds as\n"
        "intervals in business time and log position (`steps`, `rows`), their tables,\n"
        "and the reads and statistics as of a moment (`queries`, `stats`, `middles`)."
    ),
}

#: the modules that stay at the top of `service/` (anything else there is reported)
TOP_LEVEL = {"__init__", "main", "app", "bootstrap", "runtime", "errors"}

#: the packages whose modules and paths are rewritten
ROOTS = ("service", "projections")

#: never rewritten: this file (its tables name the old modules), test vectors, locks
SKIP = (re.compile(r"^tools/relayout\.py$"), re.compile(r"^tests/vectors/"), re.compile(r"\.lock$"))


# --- the plan ---------------------------------------------------------------------------


def git(*args: str, capture: bool = True) -> str:
    done = subprocess.run(["git", *args], check=True, capture_output=capture, text=True)
    return done.stdout if capture else ""


def tracked() -> list[str]:
    return [p for p in git("ls-files", "-z").split("\0") if p]


def module_of(path: str) -> str:
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def target_of(path: str) -> str | None:
    if path in MOVES:
        return MOVES[path]
    for pattern, replacement in RULES:
        if re.match(pattern, path):
            return re.sub(pattern, replacement, path)
    return None


@dataclass
class Plan:
    pending: dict[str, str] = field(default_factory=dict)  # to move now
    done: dict[str, str] = field(default_factory=dict)  # moved before (stale references)
    conflicts: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def plan(files: set[str]) -> Plan:
    result = Plan()
    candidates = dict(MOVES)
    for path in sorted(files):
        if path not in candidates and (target := target_of(path)) is not None:
            candidates[path] = target
    for old, new in candidates.items():
        if old in files and new in files:
            result.conflicts.append(f"{old} -> {new}: both exist, left alone")
        elif old in files:
            result.pending[old] = new
        elif new in files:
            result.done[old] = new
        else:
            result.missing.append(old)
    return result


# --- rewriting --------------------------------------------------------------------------

_ROOT = "|".join(ROOTS)
DOTTED = re.compile(rf"(?<![\w.])(?:{_ROOT})(?:\.\w+)+")
PATH = re.compile(rf"(?<![\w./-])(?:{_ROOT})/[\w/]+\.py\b")
#: a path inside service/ written without it (`public/routes.py`), in Markdown only
SHORT_PATH = re.compile(r"(?<![\w./-])[a-z_]+/[\w/]*\w+\.py\b")
FROM = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<mod>[\w.]+)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n]*)",
    re.M,
)


@dataclass
class Maps:
    modules: dict[str, str]
    paths: dict[str, str]


def maps(moves: dict[str, str]) -> Maps:
    return Maps({module_of(o): module_of(n) for o, n in moves.items()}, dict(moves))


def rename_dotted(text: str, modules: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        parts = match.group(0).split(".")
        for cut in range(len(parts), 1, -1):
            head = ".".join(parts[:cut])
            if head in modules:
                return ".".join([modules[head], *parts[cut:]])
        return match.group(0)

    return DOTTED.sub(one, text)


def rename_from_imports(text: str, modules: dict[str, str]) -> str:
    """`from service import bootstrap, moments` where `service.moments` moved: one
    statement per new parent, the old name kept as an alias when the leaf changed."""

    def one(match: re.Match[str]) -> str:
        mod, names = match.group("mod"), match.group("names")
        comment = ""
        if not names.startswith("("):
            names, _, comment = names.partition("#")
            comment = f"  #{comment.rstrip()}" if comment else ""
        elif "#" in names:
            return match.group(0)  # a commented multi-line import: left for a human
        items = [n.strip() for n in names.strip().strip("()").replace("\n", " ").split(",")]
        items = [n for n in items if n]
        if not any(f"{mod}.{n.split()[0]}" in modules for n in items):
            return match.group(0)
        kept: list[str] = []
        moved: dict[str, list[str]] = {}
        for item in items:
            name, _, alias = (p.strip() for p in item.partition(" as "))
            new = modules.get(f"{mod}.{name}")
            if new is None:
                kept.append(item)
                continue
            parent, leaf = new.rsplit(".", 1)
            local = alias or name
            moved.setdefault(parent, []).append(leaf if leaf == local else f"{leaf} as {local}")
        indent = match.group("indent")
        lines = [f"from {mod} import {', '.join(kept)}"] if kept else []
        lines += [f"from {parent} import {', '.join(names)}" for parent, names in moved.items()]
        return indent + f"\n{indent}".join(lines) + comment

    return FROM.sub(one, text)


def rename_paths(text: str, paths: dict[str, str], markdown: bool) -> str:
    text = PATH.sub(lambda m: paths.get(m.group(0), m.group(0)), text)
    if markdown:
        short = {
            o.removeprefix("service/"): n.removeprefix("service/")
            for o, n in paths.items()
            if o.startswith("service/") and o.count("/") > 1
        }
        text = SHORT_PATH.sub(lambda m: short.get(m.group(0), m.group(0)), text)
    return text


def rewrite(text: str, path: str, m: Maps) -> str:
    if path.endswith(".py"):
        before = text
        text = rename_dotted(text, m.modules)
        text = rename_from_imports(text, m.modules)
        text = wrap_long_lines(text, before)
    else:
        text = rename_dotted(text, m.modules)
    return rename_paths(text, m.paths, markdown=path.endswith(".md"))


#: ruff's line length (pyproject.toml); longer names can push a comment or docstring over
LINE_LENGTH = 100


def _split(line: str, start: int, prefix: str) -> list[str]:
    """`line` cut at its last space before LINE_LENGTH (not before `start`), the rest
    carried on lines that begin with `prefix`."""
    out = []
    while len(line) > LINE_LENGTH:
        cut = line.rfind(" ", start, LINE_LENGTH + 1)
        if cut <= start or not line[:cut].strip():
            break
        out.append(line[:cut].rstrip())
        line = prefix + line[cut + 1 :].lstrip()
        start = len(prefix)
    return [*out, line]


def wrap_long_lines(text: str, before: str) -> str:
    """Comments and docstring lines that a rewrite made too long, cut at a space; a
    trailing comment goes above its line. Code is left to ruff format, and a line that
    was long before is left as it was."""
    if not any(len(line) > LINE_LENGTH for line in text.splitlines()):
        return text
    old = set(before.splitlines())
    prose: dict[int, tuple[int, str]] = {}  # line -> (start column, continuation prefix)
    trailing: dict[int, int] = {}  # line -> column of a comment after code
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                code = tok.line[: tok.start[1]]
                if code.strip():
                    trailing[tok.start[0]] = tok.start[1]
                else:
                    prose[tok.start[0]] = (tok.start[1] + 2, code + "# ")
            elif tok.type == tokenize.STRING and tok.start[0] < tok.end[0]:
                for row in range(tok.start[0] + 1, tok.end[0] + 1):
                    prose[row] = (0, "")
                prose[tok.start[0]] = (tok.start[1] + 3, "")
    except (tokenize.TokenError, SyntaxError):
        return text
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    for row, full in enumerate(lines, 1):
        line = full.rstrip("\n")
        end = full[len(line) :]
        if len(line) <= LINE_LENGTH or line in old:
            out.append(full)
        elif row in trailing:
            code, comment = line[: trailing[row]].rstrip(), line[trailing[row] :]
            indent = code[: len(code) - len(code.lstrip())]
            above = _split(indent + comment, len(indent) + 2, indent + "# ")
            out += [piece + "\n" for piece in above] + [code + end]
        elif row in prose:
            start, prefix = prose[row]
            indent = line[: len(line) - len(line.lstrip())]
            pieces = _split(line, max(start, len(indent)), prefix or indent)
            out += [piece + "\n" for piece in pieces[:-1]] + [pieces[-1] + end]
        else:
            out.append(full)
    return "".join(out)


def set_docstring(init: Path, doc: str) -> bool:
    """Give a package's `__init__.py` this docstring; True if the file changed."""
    wanted = f'"""{doc}\n"""\n' if "\n" in doc else f'"""{doc}"""\n'
    old = init.read_text() if init.exists() else ""
    body = re.sub(r'\A\s*(?:"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\')[ \t]*\n?', "", old)
    new = wanted + (("\n" + body.lstrip("\n")) if body.strip() else "")
    if new == old:
        return False
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text(new)
    return True


# --- the run ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="say what would change")
    parser.add_argument("--allow-dirty", action="store_true", help="run on a dirty tree")
    parser.add_argument("--ruff", default=".venv/bin/ruff", help="ruff to tidy imports")
    args = parser.parse_args(argv)

    root = Path.cwd()
    if not (root / "pyproject.toml").exists() or not (root / "service").is_dir():
        print("relayout: run me at the repository's root", file=sys.stderr)
        return 2
    if not args.allow_dirty and not args.dry_run and git("status", "--porcelain", "-uno"):
        print("relayout: the work tree has changes; commit them or --allow-dirty", file=sys.stderr)
        return 2

    files = set(tracked())
    the_plan = plan(files)
    # references to modules moved before: only where the old name is no module now
    # (`service.commands` is a package after the move: only this run's moves rename it)
    now = {module_of(p) for p in files if p.endswith(".py")} | {
        module_of(p.rsplit("/", 1)[0]) for p in files if p.endswith(".py")
    }
    stale = {o: n for o, n in the_plan.done.items() if module_of(o) not in now}
    m = maps({**stale, **the_plan.pending})

    report: list[str] = []
    for old, new in sorted(the_plan.pending.items()):
        report.append(f"move     {old} -> {new}")
        if not args.dry_run:
            (root / new).parent.mkdir(parents=True, exist_ok=True)
            git("mv", old, new)

    after = {the_plan.pending.get(p, p) for p in files}
    changed: list[str] = []
    for package, doc in PACKAGES.items():
        init = f"{package}/__init__.py"
        if not any(p.startswith(package + "/") for p in after):
            continue  # a package this checkout does not have (yet)
        if args.dry_run:
            report.append(f"package  {init}")
            continue
        if set_docstring(root / init, doc):
            changed.append(init)
            report.append(f"package  {init}")

    rewritten = 0
    source = {new: old for old, new in the_plan.pending.items()} if args.dry_run else {}
    if m.modules:
        for path in sorted(after):
            where = root / source.get(path, path)
            if any(s.search(path) for s in SKIP) or not where.is_file():
                continue
            try:
                text = where.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            new_text = rewrite(text, path, m)
            if new_text != text:
                rewritten += 1
                report.append(f"rewrite  {path}")
                if not args.dry_run:
                    (root / path).write_text(new_text, encoding="utf-8")
                    changed.append(path)

    python = [p for p in changed if p.endswith(".py")]
    ruff = root / args.ruff
    if python and ruff.exists():
        subprocess.run([str(ruff), "check", "-q", "--select", "I", "--fix", *python], check=False)
        subprocess.run([str(ruff), "format", "-q", *python], check=False)
    if changed and not args.dry_run:
        git("add", "--", *sorted(set(changed)))

    # what is left for a human
    top = sorted(
        p for p in after if re.fullmatch(r"service/\w+\.py", p) and Path(p).stem not in TOP_LEVEL
    )
    left = [f"unknown  {p}: left in place (add a line to MOVES or RULES)" for p in top]
    bare = {Path(o).name for o in the_plan.pending if re.fullmatch(r"service/\w+\.py", o)}
    mentions = []
    for path in sorted(after):
        where = root / source.get(path, path)
        if bare and path.endswith(".md") and where.is_file():
            for number, line in enumerate(where.read_text().splitlines(), 1):
                for name in sorted(bare):
                    if re.search(rf"(?<![\w/.-]){re.escape(name)}\b", line):
                        mentions.append(f"mention  {path}:{number}: bare `{name}`, check by hand")

    lines = report + [f"conflict {c}" for c in the_plan.conflicts] + left + mentions
    if lines:
        print("\n".join(lines))
    print(
        f"relayout: {len(the_plan.pending)} moved, {len(the_plan.done)} of MOVES in place, "
        f"{rewritten} files rewritten, {len(top)} unknown top-level modules, "
        f"{len(the_plan.conflicts)} conflicts{' (dry run)' if args.dry_run else ''}"
    )
    return 1 if the_plan.conflicts else 0


if __name__ == "__main__":
    sys.exit(main())
