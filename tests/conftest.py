"""Test-wide fixtures: isolation from the environment, and the real Pub/Sub emulator.

The emulator is started once per session on a free 127.0.0.1 port (or reused
when ``PUBSUB_EMULATOR_HOST`` is already set, as ``.ci/run`` does). When it is
not installed, emulator tests are skipped with the install hint, except in CI
(``CI`` or ``IL_AUDIT_REQUIRE_EMULATOR`` set), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from il_audit.config.runtime import MANAGED_RUNTIME_VARIABLES
from il_audit.config.settings import (
    ENABLE_VARIABLES,
    ENV_BINDINGS,
    reset_audit_settings_cache,
)
from il_audit.devtools import pubsub_emulator
from il_audit.publisher import _default, _lifecycle
from il_audit.publisher.builders import clear_builders
from il_audit.schemas import taxonomy
from tests.support import bigquery_standin
from tests.support.bigquery_standin import BigQueryStandIn

_SESSION_EMULATOR_HOST = os.environ.get("PUBSUB_EMULATOR_HOST", "")
_ISOLATED_VARIABLES = {
    *(variable for variables in ENV_BINDINGS.values() for variable in variables),
    *ENABLE_VARIABLES,
    *MANAGED_RUNTIME_VARIABLES,
    "PUBSUB_EMULATOR_HOST",
}


def _ci() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("IL_AUDIT_REQUIRE_EMULATOR"))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no il-audit variables, fresh settings and no default publisher."""
    for variable in _ISOLATED_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    reset_audit_settings_cache()
    _default.reset_for_tests()
    taxonomy.unregister_all()
    clear_builders()
    yield
    _default.reset_for_tests()
    # Every publisher a test made is stopped, even when an assertion failed first:
    # a thread left running would retry into later tests.
    for publisher in list(_lifecycle._live):
        publisher.shutdown(0)
    reset_audit_settings_cache()
    taxonomy.unregister_all()
    clear_builders()  # a builder a test registered must not shape a later test's events


@pytest.fixture(scope="session")
def _emulator_host() -> Iterator[str]:
    if _SESSION_EMULATOR_HOST:
        yield _SESSION_EMULATOR_HOST
        return
    try:
        emulator = pubsub_emulator.start()
    except pubsub_emulator.EmulatorNotFoundError as exc:
        if _ci():
            pytest.fail(f"CI needs the Pub/Sub emulator: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield emulator.host
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def standin() -> Iterator[BigQueryStandIn]:
    """The BigQuery stand-in (bqemulator), one process per session (about 1.5 s to start)."""
    running = bigquery_standin.start_for_tests()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pubsub_emulator_host(_emulator_host: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The emulator's ``host:port``, exported as ``PUBSUB_EMULATOR_HOST`` for this test."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", _emulator_host)
    return _emulator_host


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the emulator, so ``-m "not emulator"`` runs the rest."""
    for item in items:
        if "pubsub_emulator_host" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.emulator)
