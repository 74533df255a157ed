"""The public API does not change by accident: names are pinned in a golden file."""

from __future__ import annotations

import inspect

import il_audit
import il_audit.config
import il_audit.publisher
import il_audit.schemas
from tests.support.golden import assert_matches_golden

MODULES = (il_audit, il_audit.config, il_audit.publisher, il_audit.schemas)


def _describe(module: object) -> list[str]:
    lines = []
    for name in module.__all__:  # type: ignore[attr-defined]
        value = getattr(module, name)
        if callable(value) and not inspect.isclass(value):
            try:
                lines.append(f"{name}{inspect.signature(value)}")
            except ValueError:
                lines.append(name)
        else:
            lines.append(name)
    return lines


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 enforces: CONSTANTS, then Classes, then functions.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_lists_are_sorted() -> None:
    """Each package's __all__ is sorted, so diffs stay readable."""
    for module in MODULES:
        assert list(module.__all__) == sorted(module.__all__, key=_isort_key), module.__name__


def test_public_api_matches_golden() -> None:
    """Names and signatures of every public package are as recorded."""
    text = "\n".join(
        f"{module.__name__}.{line}" for module in MODULES for line in _describe(module)
    )
    assert_matches_golden("public_api.txt", text)


def test_seed_imports_still_work() -> None:
    """The 0.1 import lines keep working."""
    from il_audit import AuditContext, emit, flush_audit_writer, taxonomy

    assert callable(emit)
    assert callable(flush_audit_writer)
    assert AuditContext(app="ingest").app == "ingest"
    assert taxonomy.AUTH_LOGIN_SUCCEEDED == "auth.login.succeeded"


def test_every_seed_path_imports_and_has_what_it_lists() -> None:
    """Each seed module path (a re-export, tests/test_architecture.py) gives every name it lists."""
    import importlib

    from tests.test_architecture import SEED_PATHS

    for name in sorted(SEED_PATHS):
        module = importlib.import_module(name)
        for exported in getattr(module, "__all__", ()):
            assert getattr(module, exported) is not None, (name, exported)
