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


def imported(
    path: Path, name: str, known: set[str], *, type_checking: bool = False
) -> Iterator[str]:
    """il_audit modules ``path`` imports at run time (lazily or not); with
    ``type_checking``, inside ``if TYPE_CHECKING:`` blocks too."""
    tree = ast.parse(path.read_text("utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node) and not type_checking:
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


def graph(*, type_checking: bool = False) -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: set(imported(path, name, known, type_checking=type_checking))
        for name, path in found.items()
    }


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:index]) for index in range(1, len(parts))]


def test_no_import_cycles() -> None:
    """No module reaches itself through imports, ``if TYPE_CHECKING:`` ones included: a cycle
    that only type checking sees is still two modules that cannot be understood apart
    (packages' own __init__ chains excluded)."""
    edges = graph(type_checking=True)
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


# Modules that patch a third-party library's internals on purpose (the BigQuery stand-in's
# launcher runs under the stand-in's own interpreter and fixes bqemulator in place).
PATCHES_THIRD_PARTY = frozenset({"il_audit.devtools.bqemulator_launcher"})


def _private_attributes_defined(tree: ast.AST) -> set[str]:
    """Underscore attributes and methods the classes of a module define for themselves."""
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("_"):
            defined.add(node.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            defined.add(node.attr)
    return defined


def _imported_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def test_no_module_touches_another_classs_underscore_attributes() -> None:
    """An object is asked by name (``request_stop``, ``snapshot``); nobody reads or writes
    its ``_state`` but its own class. Module-level private names are the import rule's."""
    offenders = []
    for name, path in modules().items():
        if name in PATCHES_THIRD_PARTY:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        own = _private_attributes_defined(tree)
        modules_here = _imported_names(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                continue
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
                continue
            root = receiver
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in modules_here:
                continue  # a module's private name: see the private-import rule
            if node.attr in own or node.attr in ("_asdict", "_replace", "_fields", "_make"):
                continue  # its own class's (a hook in the same module), or namedtuple's API
            offenders.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []
