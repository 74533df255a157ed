"""Project resolution off the caller's thread: bounded in time, only a success is cached."""

from __future__ import annotations

import threading
import time

import pytest

from il_audit.config.runtime import (
    ProjectLookup,
    ProjectResolver,
    describe_credentials,
    detect_managed_runtime,
    google_auth_project,
)
from tests.support.metadata_server import MetadataServer


def test_managed_runtime_is_the_first_standard_variable_set() -> None:
    """K_SERVICE, CLOUD_RUN_JOB, FUNCTION_TARGET, GAE_SERVICE are recognised; blanks are not."""
    assert detect_managed_runtime({"CLOUD_RUN_JOB": "nightly"}) == "CLOUD_RUN_JOB"
    assert detect_managed_runtime({"K_SERVICE": " ", "GAE_SERVICE": "default"}) == "GAE_SERVICE"
    assert detect_managed_runtime({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) is None


def test_a_success_is_cached() -> None:
    """Once a project is found the lookup is never run again."""
    calls = []

    def lookup() -> ProjectLookup:
        calls.append(1)
        return ProjectLookup("proj-1", "test")

    resolver = ProjectResolver(lookup, timeout=1)
    assert resolver.resolve().project == "proj-1"
    assert resolver.resolve().project == "proj-1"
    assert len(calls) == 1


def test_a_failure_is_not_cached() -> None:
    """A lookup without a project is tried again on the next call."""
    answers = iter([ProjectLookup(None, "test", problem="down"), ProjectLookup("p", "test")])
    resolver = ProjectResolver(lambda: next(answers), timeout=1)
    first = resolver.resolve()
    assert (first.project, first.problem) == (None, "down")
    assert resolver.resolve().project == "p"


def test_a_slow_lookup_is_bounded_and_not_duplicated() -> None:
    """The caller waits at most the timeout; a lookup still running is not started twice."""
    release = threading.Event()
    started = []

    def lookup() -> ProjectLookup:
        started.append(1)
        release.wait(5)
        return ProjectLookup("late", "test")

    resolver = ProjectResolver(lookup, timeout=0.2)
    began = time.monotonic()
    answer = resolver.resolve()
    assert time.monotonic() - began < 1.0
    assert answer.project is None
    assert answer.problem is not None
    assert "did not answer" in answer.problem
    resolver.resolve(timeout=0.1)
    assert len(started) == 1
    release.set()
    assert resolver.resolve(timeout=2).project == "late"


def test_a_lookup_that_raises_reports_instead_of_crashing() -> None:
    """An exception inside the lookup becomes the problem."""

    def lookup() -> ProjectLookup:
        raise RuntimeError("boom")

    answer = ProjectResolver(lookup, timeout=1).resolve()
    assert answer.project is None
    assert answer.problem == "RuntimeError: boom"


def test_google_auth_finds_the_project_on_a_metadata_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """google.auth.default() asks the (fake) metadata server, as it does on Cloud Run."""
    from google.auth.compute_engine import _metadata

    server = MetadataServer("meta-project")
    try:
        monkeypatch.setenv("GCE_METADATA_IP", server.host)
        monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", server.host)  # read at import
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud credentials
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        answer = google_auth_project()
    finally:
        server.stop()
    assert answer.project == "meta-project"
    assert answer.credentials == "the metadata server's service account"
    assert "metadata server" in answer.origin


def test_credentials_have_human_names() -> None:
    """Unknown credential types are named by their class."""

    class Custom:
        pass

    assert describe_credentials(Custom()).endswith("Custom")
