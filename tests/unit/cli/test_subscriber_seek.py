"""`il-audit subscriber seek` as a user meets its failures: bad usage, no credentials, a dead
port, a busy port (the emulator test is tests/integration/test_subscriber_seek.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from tests.support.metadata_server import NotAMetadataServer

TIME = "2026-01-02T03:04:05Z"


def _seek(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["subscriber", "seek", *args])
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def _project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "yesterday"], "is not a time"),
        (["--to", "2999-01-01T00:00:00Z"], "in the future"),
        (["--to", TIME, "--subscription", "a/b"], "not a subscription name"),
        (["--to", TIME, "--format", "xml"], "--format"),
    ],
)
def test_bad_usage_is_exit_2_with_the_reason(args: list[str], says: str) -> None:
    code, output = _seek(*args)
    assert code == 2
    assert says in output


def test_without_a_project_a_short_name_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    code, output = _seek("--to", TIME, "--dry-run")
    assert code == 2
    assert "GOOGLE_CLOUD_PROJECT" in output


def test_it_follows_the_cli_convention() -> None:
    """--format json|table, a --timeout deadline, each bound to a variable; exit codes stated."""
    code, output = _seek("--help")
    assert code == 0
    for text in ("--dry-run", "--format [table|json]", "IL_AUDIT_SEEK_FORMAT", "--timeout",
                 "IL_AUDIT_SEEK_TIMEOUT", "IL_AUDIT_SUBSCRIPTION", "Exit codes: 0",
                 "2 bad usage"):  # fmt: skip
        assert text in output, text


def test_no_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Google's Pub/Sub, no credentials anywhere: exit 2, one line with the fix."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    off_gce = NotAMetadataServer()  # off GCE at once (a dead address costs 3 s of retries)
    monkeypatch.setenv("GCE_METADATA_HOST", off_gce.host)
    monkeypatch.setenv("GCE_METADATA_IP", off_gce.host)
    try:
        code, output = _seek("--to", TIME, "--dry-run")
    finally:
        off_gce.stop()
    assert code == 2, output
    assert "gcloud auth application-default login" in output
    assert "Traceback" not in output


def test_a_dead_port_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"127.0.0.1:{_dead_port()}"
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    code, output = _seek("--to", TIME, "--timeout", "2")
    assert code == 1, output
    assert output.startswith(f"Error: Pub/Sub at {host} did not answer within 2 s")
    assert "PUBSUB_EMULATOR_HOST" in output
    assert len(output.strip().splitlines()) == 1
    verbose = CliRunner().invoke(cli, ["-v", "subscriber", "seek", "--to", TIME, "--timeout", "2"])
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.output


def test_a_busy_port_gives_up_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, busy_port: int
) -> None:
    """Something listens but never answers: exit 1 once --timeout has passed, not later."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{busy_port}")
    started = time.monotonic()
    code, output = _seek("--to", TIME, "--timeout", "1", "--format", "json")
    assert time.monotonic() - started < 10
    assert code == 1, output
    assert "did not answer within 1 s" in output
    assert "Traceback" not in output
