"""The layout keeps its promises: no import cycles, small modules, parts that depend one way.

Imports are read from the source (module level and inside functions, not
``if TYPE_CHECKING:`` blocks), so a lazy import that would close a cycle at
run time is caught too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "il_audit"
MAX_MODULE_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path, name: str, known: set[str]) -> Iterator[str]:
    """il_audit modules ``path`` imports at run time (lazily or not)."""
    tree = ast.parse(path.read_text("utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(path, name, known)) for name, path in found.items()}


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:index]) for index in range(1, len(parts))]


def test_no_import_cycles() -> None:
    """No module reaches itself through imports (packages' own __init__ chains excluded)."""
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            # Importing a submodule runs its parent packages first; those edges are not cycles.
            if target in _parents(node):
                continue
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif state.get(target) is None:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if state.get(node) is None:
            visit(node)
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_module_is_over_450_lines() -> None:
    """Modules stay small enough to read in one sitting."""
    long = {
        name: lines
        for name, path in modules().items()
        if (lines := len(path.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_publisher_imports_nothing_from_the_subscriber() -> None:
    """Apps install the publisher; the embedded transport is found by entry point instead."""
    edges = graph()
    offenders = {
        name: sorted(target for target in targets if target.startswith("il_audit.subscriber_fn"))
        for name, targets in edges.items()
        if name.startswith("il_audit.publisher")
    }
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_schemas_are_pure() -> None:
    """il_audit.schemas imports nothing from Google and nothing from the other parts."""
    for name, path in modules().items():
        if not name.startswith("il_audit.schemas"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(
                    ("google", "il_audit.publisher", "il_audit.subscriber_fn")
                ), (name, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("google"), (name, alias.name)


# Modules outside il_audit/config that read an IL_* variable themselves, and why that is right.
ENVIRONMENT_READERS = {
    # Where the developer's Pub/Sub emulator launcher is: a tool's location, read when the dev
    # stack or a test starts the emulator, not a setting of the library.
    "il_audit.devtools.pubsub_emulator": {"IL_AUDIT_PUBSUB_EMULATOR"},
    # The interpreter of the BigQuery stand-in's own venv: the same kind of tool location.
    "il_audit.devtools.bigquery_standin": {"IL_AUDIT_BQEMULATOR_PYTHON"},
}


def _is_environ(node: ast.AST, aliases: set[str]) -> bool:
    """``os.environ``, ``environ`` imported from os, or a name assigned from one of those."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in aliases


def _strings(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to a string constant (``VARIABLE: Final = "IL_..."``)."""
    found = {}
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return found


def environment_reads(source: str) -> set[str]:
    """The names ``source`` reads from the process environment: ``os.environ[...]``,
    ``.get(...)``, ``in``, ``os.getenv(...)``, directly or through a name assigned from
    ``os.environ`` (``env = os.environ if environ is None else environ``). A name that is not
    a string constant is reported as ``<computed>``."""
    tree = ast.parse(source)
    constants = _strings(tree)
    aliases = {"environ"} if "from os import environ" in source else set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            _is_environ(child, aliases) for child in ast.walk(node.value)
        ):
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))

    def text(key: ast.AST) -> str:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
        found = constants.get(key.id) if isinstance(key, ast.Name) else None
        return found or "<computed>"

    keys: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_environ(node.value, aliases):
            keys.append(node.slice)
        elif isinstance(node, ast.Compare) and any(
            _is_environ(other, aliases) for other in node.comparators
        ):
            keys.append(node.left)
        elif isinstance(node, ast.Call) and node.args:
            function = node.func
            if isinstance(function, ast.Attribute) and (
                _is_environ(function.value, aliases)
                or (function.attr == "getenv" and ast.unparse(function.value) == "os")
            ):
                keys.append(node.args[0])
    return {text(key) for key in keys}


def test_only_il_audit_config_reads_il_variables() -> None:
    """Settings are read by the one loader: no module outside il_audit/config reads an IL_*
    variable (or one whose name is computed) from the environment, except the tool
    locations listed above."""
    found = {
        name: reads
        for name, path in modules().items()
        if not name.startswith("il_audit.config")
        and (
            reads := {
                read
                for read in environment_reads(path.read_text("utf-8"))
                if read.startswith(("IL_", "<computed>"))
            }
        )
    }
    assert found == ENVIRONMENT_READERS


def test_the_environment_rule_sees_every_way_of_reading() -> None:
    """The rule above finds subscripts, get, in, getenv, aliases of os.environ and keys it
    cannot name."""
    source = (
        'import os\nNAME = "IL_A"\n'
        "def f(environ=None, key=''):\n"
        "    env = os.environ if environ is None else environ\n"
        "    env.get(key)\n"
        '    return env.get(NAME), os.environ["IL_B"], "IL_C" in os.environ, os.getenv("IL_D")\n'
    )
    assert environment_reads(source) == {"IL_A", "IL_B", "IL_C", "IL_D", "<computed>"}
