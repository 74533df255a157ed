"""The layout keeps its promises: no import cycles, small modules, parts that depend one way.

Imports are read from the source (module level and inside functions, not
``if TYPE_CHECKING:`` blocks), so a lazy import that would close a cycle at
run time is caught too.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import subprocess
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


# The package root: the stable API (__init__), a few shared internals and the seed's paths.
ROOT_MODULES = frozenset(
    {
        "il_audit._json",  # JSON of row values: the sinks, the CLI, the dlq tools
        "il_audit._ratelimit",  # logging at most once per interval
        "il_audit._version",
        "il_audit.errors",  # AuditError, the root of every exception, and SettingsError
        "il_audit.pytest_plugin",  # the pytest11 entry point every host test run loads
        "il_audit.retrying",  # which Google API errors are worth retrying
    }
)
SEED_PATHS = frozenset(
    {
        # 0.1.3's (and 1.0.35's) module paths: re-exports of public names, nothing else.
        "il_audit.beacon_auth",
        "il_audit.beacon_conversation",
        "il_audit.beacon_router",
        "il_audit.beacon_schemas",
        "il_audit.builders",
        "il_audit.builders.chat_builder",
        "il_audit.builders.envelope_builder",
        "il_audit.context",
        "il_audit.emit",
        "il_audit.envelope",
        "il_audit.job_context",
        "il_audit.registry",
        "il_audit.taxonomy",
        "il_audit.usage",
        "il_audit.vertex_usage",
        # Issue 22's integration paths, re-exports too (the code lives in chat/).
        "il_audit.integrations",
        "il_audit.integrations.langchain",
    }
)
PARTS = frozenset(
    {
        "chat",
        "cli",
        "config",
        "devtools",
        "operations",
        "publisher",
        "report",
        "schemas",
        "sql",
        "subscriber_fn",
    }
)
MAX_SEED_PATH_STATEMENTS = 10
MAX_SEED_PATH_LINES = 25


@functools.cache
def _tree(path: Path) -> ast.Module:
    """The parsed source of ``path``, once per run (several rules read every module)."""
    return ast.parse(path.read_text("utf-8"))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` in ``importer`` reads from."""
    if not node.level:
        return node.module or ""
    anchor = importer.split(".")[: None if is_package else -1]
    anchor = anchor[: len(anchor) - node.level + 1]
    return ".".join(filter(None, [*anchor, node.module or ""]))


def test_the_root_holds_the_stable_api_shared_internals_and_seed_paths() -> None:
    """Real code lives in its part; a new root module is a decision made here."""
    root = {name: path for name, path in modules().items() if name.count(".") == 1}
    packages = {name for name, path in root.items() if path.name == "__init__.py"}
    seed_files = {name for name in SEED_PATHS if name in root} - packages
    assert set(root) - packages == ROOT_MODULES | seed_files
    # builders/ is the seed's path of envelope_builder, integrations/ issue 22's; the rest are
    # the parts.
    assert {name.split(".")[1] for name in packages} == PARTS | {"builders", "integrations"}


def test_a_seed_path_only_re_exports_public_names() -> None:
    """A seed path is a few lines that import public names from their part (and list them)."""
    found = modules()
    for name in sorted(SEED_PATHS):
        text = found[name].read_text("utf-8")
        body = ast.parse(text).body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        assert len(body) <= MAX_SEED_PATH_STATEMENTS, name
        assert len(text.splitlines()) <= MAX_SEED_PATH_LINES, name
        for node in body:
            if isinstance(node, ast.ImportFrom):
                parts = (node.module or "").split(".")
                assert parts[0] == "il_audit", (name, node.module)
                assert not any(map(_private, parts)), (name, node.module)
                assert not any(_private(alias.name) for alias in node.names), name
            elif isinstance(node, ast.Import):
                assert [alias.name for alias in node.names] == ["sys"], name
            else:  # __all__ = [...], or sys.modules[__name__] = the module it stands for
                assert isinstance(node, ast.Assign), (name, ast.dump(node))
                target = ast.unparse(node.targets[0])
                assert target in {"__all__", "sys.modules[__name__]"}, (name, target)


def _owner(target: str, packages: set[str]) -> str | None:
    """The package whose private name ``target`` is (None: no underscore in it)."""
    parts = target.split(".")
    for index, part in enumerate(parts):
        if _private(part):
            owner = ".".join(parts[:index])
            return owner if owner in packages else owner.rpartition(".")[0]
    return None


def _private_reads(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(il_audit target, line) of every import ``name`` makes and every ``module._x`` it reads
    through a module it imported, ``TYPE_CHECKING`` imports included."""
    tree = _tree(path)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name] = alias.name
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, name, path.name == "__init__.py")
            yield base, node.lineno
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
                yield f"{base}.{alias.name}", node.lineno
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
        ):
            yield f"{aliases[node.value.id]}.{node.attr}", node.lineno


def test_no_module_reaches_into_another_package_s_private_names() -> None:
    """Nothing outside package X imports ``X._anything`` (module or name) or reads it
    through a module; the seed paths included. Tests may."""
    found = modules()
    packages = {name for name, path in found.items() if path.name == "__init__.py"}
    offenders = sorted(
        f"{name}:{line} -> {target}"
        for name, path in found.items()
        for target, line in _private_reads(name, path)
        if target.startswith("il_audit.")
        and (owner := _owner(target, packages)) is not None
        and name != owner
        and not name.startswith(f"{owner}.")
    )
    assert offenders == []


def _wire_values() -> dict[str, str]:
    """The attribute names ``schemas/wire.py`` defines, and the default topic names."""
    tree = ast.parse((PACKAGE / "schemas" / "wire.py").read_text("utf-8"))
    values = {
        node.value.value: node.target.id
        for node in tree.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id.startswith("ATTR_")
        and isinstance(node.value, ast.Constant)
    }
    # ATTR_APP and ATTR_EVENT_TYPE are envelope field names first, spelled everywhere.
    del values["app"], values["event_type"]
    defaults = json.loads((PACKAGE / "config" / "defaults.json").read_text("utf-8"))
    values.update({defaults[key]: key for key in ("topic", "dlq_topic", "duckdb_path")})
    return values


def test_the_wire_contract_is_spelled_only_in_wire_py() -> None:
    """No string constant equal to a ``wire.ATTR_*`` value or a default topic name (or the
    default DuckDB path) outside ``schemas/wire.py`` and ``defaults.json``."""
    values = _wire_values()
    assert len(values) > 10  # the scan below is not vacuous
    offenders = sorted(
        f"{name}:{node.lineno} {node.value!r} ({values[node.value]})"
        for name, path in modules().items()
        if name != "il_audit.schemas.wire"
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in values
    )
    assert offenders == []


def _classes() -> dict[str, list[tuple[str, list[str]]]]:
    """Class name -> (module, base names) of every class defined in il_audit."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for name, path in modules().items():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base).rpartition(".")[2] for base in node.bases]
                found.setdefault(node.name, []).append((name, bases))
    return found


def _exception_classes() -> dict[str, tuple[str, bool]]:
    """Exception classes defined in il_audit: name -> (module, derives from AuditError)."""
    classes = _classes()
    builtin = {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }

    def kind(name: str, seen: frozenset[str] = frozenset()) -> tuple[bool, bool]:
        """(is an exception, derives from AuditError)."""
        if name == "AuditError":
            return True, True
        if name in seen:
            return False, False
        if name not in classes:  # a third-party base: its name says whether it is one
            return name in builtin or name.endswith(("Error", "Exception")), False
        kinds = [kind(base, seen | {name}) for _, bases in classes[name] for base in bases]
        return any(k[0] for k in kinds), any(k[1] for k in kinds)

    result = {}
    for name, definitions in classes.items():
        is_exception, audit = kind(name)
        if is_exception:
            for module, _ in definitions:
                result[f"{module}.{name}"] = (module, audit)
    return result


def test_every_exception_is_an_audit_error_defined_in_an_errors_module() -> None:
    """One exception tree: every exception class il_audit defines derives from AuditError,
    and lives in its part's ``errors.py`` (or the root's)."""
    found = _exception_classes()
    assert len(found) > 20  # the scan finds them
    assert sorted(name for name, (_, audit) in found.items() if not audit) == []
    assert (
        sorted(name for name, (module, _) in found.items() if module.rpartition(".")[2] != "errors")
        == []
    )


def test_the_repository_tracks_no_symlink_and_no_environment() -> None:
    """A committed symlink (a worktree's link to a shared venv once was) breaks
    ``make setup-test`` on a clean clone: ``python -m venv`` finds the path taken."""
    root = PACKAGE.parent
    listing = subprocess.run(
        ["git", "ls-files", "-s"], cwd=root, capture_output=True, text=True, check=True, timeout=30
    ).stdout.splitlines()
    links = [line.split("\t", 1)[1] for line in listing if line.startswith("120000 ")]
    environments = [
        line.split("\t", 1)[1]
        for line in listing
        if line.split("\t", 1)[1].split("/", 1)[0].startswith(".venv")
    ]
    assert links == [], f"symlinks are tracked: {links}"
    assert environments == [], f"virtual environments are tracked: {environments}"


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
