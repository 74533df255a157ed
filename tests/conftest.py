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
from il_audit.config.settings import ENABLE_VARIABLES, ENV_BINDINGS
from il_audit.devtools import pubsub_emulator
from il_audit.devtools.bigquery_standin import PYTHON_VARIABLE
from il_audit.publisher import _lifecycle
from il_audit.publisher.testing import reset
from tests.support import bigquery_standin
from tests.support.bigquery_standin import BigQueryStandIn

_SESSION_EMULATOR_HOST = os.environ.get("PUBSUB_EMULATOR_HOST", "")
_ISOLATED_VARIABLES = {
    *(variable for variables in ENV_BINDINGS.values() for variable in variables),
    *ENABLE_VARIABLES,
    *MANAGED_RUNTIME_VARIABLES,
    "PUBSUB_EMULATOR_HOST",
}
"""Cleared for every test, with every other ``IL_*`` variable but the harness's own."""
_HARNESS_VARIABLES = {
    # Where the test tools are, and switches of the test run itself: kept.
    pubsub_emulator.LAUNCHER_VARIABLE,
    PYTHON_VARIABLE,
    "IL_AUDIT_CHROMIUM",
    "IL_AUDIT_CHROMEDRIVER",
    "IL_AUDIT_REQUIRE_EMULATOR",
    "IL_AUDIT_UPDATE_GOLDEN",
    "IL_AUDIT_UPDATE_SCREENSHOT",
    "IL_AUDIT_RELIABILITY_LOG",
}


def _ci() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("IL_AUDIT_REQUIRE_EMULATOR"))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no il-audit variables and il-audit's global state reset."""
    for variable in _ISOLATED_VARIABLES | {name for name in os.environ if name.startswith("IL_")}:
        if variable not in _HARNESS_VARIABLES:
            monkeypatch.delenv(variable, raising=False)
    # Heartbeats off unless a test turns them on: the shutdown heartbeat is one event more
    # for every test (and every process it starts) that counts events exactly.
    monkeypatch.setenv("IL_AUDIT_HEARTBEAT_SECONDS", "0")
    reset()
    yield
    reset()
    # Every publisher a test made is stopped, even when an assertion failed first:
    # a thread left running would retry into later tests.
    for publisher in list(_lifecycle._live):
        publisher.shutdown(0)


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
    """Mark every test that uses the emulator or the stand-in, so that ``make test-fast``
    (``-m "not emulator and not standin ..."``) runs the rest."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "pubsub_emulator_host" in fixtures:
            item.add_marker(pytest.mark.emulator)
        if "standin" in fixtures:
            item.add_marker(pytest.mark.standin)
