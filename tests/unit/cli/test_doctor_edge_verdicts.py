"""`il-audit doctor` verdicts the other doctor tests do not reach.

Credentials that cannot be checked in time: unknown, exit 3.
The metadata server's address accepts connections and never answers (a listening socket
nobody reads: the kernel completes the handshake), the way a firewalled or wedged metadata
endpoint behaves. google-auth then waits, so the lookup outlives doctor's ``--timeout``:
doctor must say it could not check (verdict unknown, exit 3) and name the address and the
fixes, never "ok" and never "no credentials" (which it does not know).

An embedded file that cannot be created (under a regular file: root can write anywhere
else, so chmod cannot stand for it here): a problem, exit 1.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli


@pytest.fixture
def silent_metadata_host() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a socket that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No project, emulator or credentials from the machine running the tests."""
    for key in list(os.environ):
        if key.startswith(("IL_", "GOOGLE_", "GCP_", "GCE_", "K_", "CLOUDSDK_", "PUBSUB_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.chdir(tmp_path)


def test_credentials_that_cannot_be_checked_in_time_are_unknown(
    silent_metadata_host: str,
) -> None:
    env = {
        "GOOGLE_CLOUD_PROJECT": "my-prod",
        "GCE_METADATA_HOST": silent_metadata_host,
        "GCE_METADATA_IP": silent_metadata_host,
    }
    started = time.monotonic()
    result = CliRunner(env=env).invoke(cli, ["doctor", "--timeout", "1", "--format", "json"])
    elapsed = time.monotonic() - started

    assert result.exit_code == 3, result.output
    data = json.loads(result.output)
    assert data["verdict"] == "unknown"
    (credentials,) = [item for item in data["findings"] if item["name"] == "credentials"]
    assert credentials["verdict"] == "unknown"
    assert silent_metadata_host in data["summary"]
    assert "raise --timeout" in data["summary"]
    assert "GOOGLE_APPLICATION_CREDENTIALS" in data["summary"]
    assert elapsed < 10  # the deadline holds; google-auth alone would wait 3 s x 3 attempts


def test_a_database_under_a_file_is_a_problem_and_a_missing_folder_is_not(
    tmp_path: Path,
) -> None:
    """The embedded file cannot be created under a regular file (a problem, exit 1, naming
    it); a folder that does not exist yet is fine (the sink creates it)."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    under_file = CliRunner(env={"IL_AUDIT_DUCKDB_PATH": str(blocker / "audit.duckdb")}).invoke(
        cli, ["doctor", "--format", "json"]
    )
    assert under_file.exit_code == 1, under_file.output
    data = json.loads(under_file.output)
    assert data["verdict"] == "problem"
    assert f"{blocker} is a file" in data["summary"]

    missing = tmp_path / "new" / "deeper" / "audit.duckdb"
    fine = CliRunner(env={"IL_AUDIT_DUCKDB_PATH": str(missing)}).invoke(
        cli, ["doctor", "--format", "json"]
    )
    assert fine.exit_code == 0, fine.output
    assert json.loads(fine.output)["verdict"] == "ok"
