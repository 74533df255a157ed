"""Expected failures as a user meets them, through the real CLI: one line naming what failed
and the fix, the documented exit code (1 the work failed, 2 usage or configuration), and the
trace only with ``-v``. No services: no credentials (empty HOME and gcloud config, the
metadata address answering 404: google-auth's off-GCE verdict), a dead emulator port, a
busy port, no stand-in."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from il_audit.cli import cli
from il_audit.devtools import bigquery_standin
from il_audit.devtools.ports import free_port
from tests.support.metadata_server import NotAMetadataServer

NO_CREDENTIALS = "no Google credentials: run `gcloud auth application-default login`"


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No project, emulator or credentials from the machine running the tests; the
    metadata address answers 404 (off GCE at once: see NotAMetadataServer)."""
    for key in list(os.environ):
        if key.startswith(("IL_", "GOOGLE_", "GCP_", "GCE_", "K_", "CLOUDSDK_", "PUBSUB_")):
            monkeypatch.delenv(key)
    off_gce = NotAMetadataServer()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", off_gce.host)
    monkeypatch.setenv("GCE_METADATA_IP", off_gce.host)
    monkeypatch.chdir(tmp_path)
    yield
    off_gce.stop()


def run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def one_line(result: Result, code: int, *expected: str) -> str:
    """The output is one error line (no traceback) containing ``expected``; exit ``code``."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("migrate", "from-0.1", "--dry-run"),
        ("subscriber", "pull", "--subscription", "events-pull", "--health-port", "0"),
    ],
)
def test_no_credentials_is_one_line_naming_the_fix(args: tuple[str, ...]) -> None:
    """Configuration (exit 2). Each lookup costs google.auth ~3 s of metadata-server retries."""
    one_line(run(*args, GOOGLE_CLOUD_PROJECT="my-prod"), 2, NO_CREDENTIALS)


def test_no_credentials_in_infra_apply_and_the_trace_only_with_verbose() -> None:
    result = run("-v", "infra", "apply", "--dry-run", GOOGLE_CLOUD_PROJECT="my-prod")
    assert result.exit_code == 2, result.output
    assert "Traceback" in result.output
    assert "DefaultCredentialsError" in result.output
    assert result.output.strip().splitlines()[-1].startswith(f"Error: {NO_CREDENTIALS}")


@pytest.mark.parametrize(
    "args",
    [
        ("infra", "apply", "--no-bigquery", "--dry-run", "--timeout", "2"),
        ("dlq", "inspect"),
        ("dlq", "replay", "--dry-run"),
        ("subscriber", "pull", "--subscription", "events-pull", "--health-port", "0"),
    ],
)
def test_a_dead_emulator_fails_fast_naming_the_address_and_the_fix(
    args: tuple[str, ...],
) -> None:
    """The stale `dev env` of the issue: an emulator address nothing listens on. Before,
    `infra apply` printed nothing for 400 s and `dlq inspect` raised ServiceUnavailable."""
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run(*args, PUBSUB_EMULATOR_HOST=address, GOOGLE_CLOUD_PROJECT="x")
    one_line(result, 1, address, "PUBSUB_EMULATOR_HOST", "il-audit dev env")
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    "args",
    [
        ("infra", "apply", "--dry-run"),
        ("migrate", "from-0.1", "--dry-run"),
        ("dlq", "inspect"),
        ("dlq", "replay", "--dry-run"),
        ("subscriber", "pull", "--subscription", "events-pull", "--health-port", "0"),
        ("rates", "load", "prices.json", "--target", "bigquery", "--dry-run"),
    ],
)
def test_needs_a_project_is_exit_code_2_everywhere(args: tuple[str, ...]) -> None:
    rate = {"service": "vertex_gemini", "model_id": "gemini-2.0-flash", "unit": "tokens",
            "effective_from": "2026-12-01", "input_price_per_1m_tokens": "0.12",
            "output_price_per_1m_tokens": "0.48", "rate_version": "2026-12-01"}  # fmt: skip
    Path("prices.json").write_text(json.dumps([rate]))
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "needs a project" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_refused_before_anything_starts(listening: int, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run("dev", "up", "--pubsub-port", str(listening), "--state-dir", str(tmp_path / "s"))
    one_line(result, 1, f"port already in use: --pubsub-port {listening}")
    assert time.monotonic() - started < 5
    assert not (tmp_path / "s").exists()


def test_no_stand_in_names_make_setup_test(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`dev up --bigquery` where no .venv-bqemulator exists: one line, before starting."""
    monkeypatch.setattr(bigquery_standin, "CHECKOUT_ROOT", tmp_path)
    result = run("dev", "up", "--bigquery", "--state-dir", str(tmp_path / "s"))
    one_line(result, 1, "the BigQuery stand-in (bqemulator) is not installed", "make setup-test`")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "args", [("infra", "apply"), ("dlq", "inspect"), ("migrate", "from-0.1"), ("rates", "show")]
)
def test_help_documents_the_exit_codes(args: tuple[str, ...]) -> None:
    result = run(*args, "--help")
    assert result.exit_code == 0
    assert "Exit codes: 0 " in result.output
    assert "2 bad usage or configuration" in " ".join(result.output.split())
