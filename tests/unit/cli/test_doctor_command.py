"""`il-audit doctor` through the real CLI: its three verdicts and their exit codes, without
services (a misspelled transport, a dead port, a spool a dead process left), and its JSON."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from il_audit.cli import cli
from il_audit.devtools.ports import free_port
from il_audit.publisher._spool import Spool

KEYS = [
    "verdict",
    "exit_code",
    "ok",
    "reason",
    "summary",
    "findings",
    "spool",
    "retention",
    "last_publish_error",
]


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No project, transport, emulator or credentials from the machine running the tests."""
    for key in list(os.environ):
        if key.startswith(("IL_", "GOOGLE_", "GCP_", "GCE_", "K_", "CLOUDSDK_", "PUBSUB_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def doctor(*args: str, **env: str) -> Result:
    return CliRunner(env=env).invoke(cli, ["doctor", *args])


def report(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.output)
    return data


def finding(data: dict[str, Any], name: str) -> dict[str, str]:
    (item,) = [entry for entry in data["findings"] if entry["name"] == name]
    return item


def test_a_misspelled_transport_is_a_problem_not_ok() -> None:
    """IL_AUDIT_TRANSPORT=pubsbu: an app falls back to the embedded file, but doctor's verdict
    is a problem naming the setting (exit 1), never "ok"."""
    result = doctor(IL_AUDIT_TRANSPORT="pubsbu")

    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("PROBLEM: settings invalid")
    assert "pubsbu" in last
    assert "\nok:" not in result.output

    data = report(doctor("--format", "json", IL_AUDIT_TRANSPORT="pubsbu"))
    assert (data["verdict"], data["exit_code"], data["ok"]) == ("problem", 1, False)
    assert finding(data, "settings")["verdict"] == "problem"


def test_a_dead_emulator_is_unknown_within_the_deadline_and_named() -> None:
    """Nobody listens on the emulator's port: unknown (exit 3) within --timeout, the address
    and the likely fix in the reason; --json is --format json."""
    host = f"127.0.0.1:{free_port()}"
    env = {
        "IL_AUDIT_TRANSPORT": "pubsub",
        "IL_BQ_LOGS_PROJECT": "doctor-test",
        "PUBSUB_EMULATOR_HOST": host,
    }
    started = time.monotonic()
    result = doctor("--timeout", "3", **env)
    assert time.monotonic() - started < 10
    assert result.exit_code == 3, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("UNKNOWN: publishing to projects/doctor-test/topics/")
    assert host in last
    assert "dev env" in last

    data = report(doctor("--json", "--timeout", "3", **env))
    assert list(data) == KEYS
    assert (data["verdict"], data["exit_code"], data["ok"]) == ("unknown", 3, False)
    assert finding(data, "permission") == {
        "name": "permission",
        "value": "unknown",
        "why": finding(data, "permission")["why"],
        "verdict": "unknown",
    }
    assert host in finding(data, "permission")["why"]


def test_no_credentials_is_a_problem_with_the_fix_not_a_traceback(tmp_path: Path) -> None:
    """A project but no credentials (empty HOME and gcloud config, the metadata server on a
    dead port): a problem (exit 1) whose line names `gcloud auth application-default login`."""
    dead = f"127.0.0.1:{free_port()}"
    result = doctor(
        "--timeout",
        "20",
        GOOGLE_CLOUD_PROJECT="my-prod",
        CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
        GCE_METADATA_HOST=dead,
        GCE_METADATA_IP=dead,
    )

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("PROBLEM: publishing would NOT work: no Google credentials")
    assert "gcloud auth application-default login" in last


def test_the_spool_a_dead_process_left_is_reported(tmp_path: Path) -> None:
    """Bytes, segments, the orphaned directory and the oldest event still waiting (the first
    one was confirmed, so the second)."""
    root = tmp_path / "spool"
    spool = Spool(root, 64 * 1024 * 1024)
    for day in ("01", "02", "03"):
        line = {"event_id": f"e{day}", "occurred_at": f"2026-01-{day}T10:00:00+00:00"}
        assert spool.append(json.dumps(line).encode(), {"il_audit_count": "1"}) is not None
    spool.sync()
    first = spool.next_record()
    assert first is not None
    spool.confirm(first.key)
    spool.close()  # what a killed process leaves: files on disk, lock released

    env = {"IL_AUDIT_TRANSPORT": "off", "IL_AUDIT_SPOOL_DIR": str(root)}
    data = report(doctor("--format", "json", **env))

    assert data["verdict"] == "ok"
    spool_state = data["spool"]
    assert list(spool_state) == [
        "dir",
        "bytes",
        "max_bytes",
        "segments",
        "directories",
        "orphaned_directories",
        "oldest_record_at",
    ]
    assert spool_state["dir"] == str(root)
    assert spool_state["bytes"] > 0
    assert spool_state["segments"] >= 1
    assert (spool_state["directories"], spool_state["orphaned_directories"]) == (1, 1)
    assert spool_state["oldest_record_at"] == "2026-01-02T10:00:00+00:00"
    table = doctor(**env)
    assert "1 orphaned" in table.output
    assert "oldest waiting event 2026-01-02T10:00:00+00:00" in table.output


def test_a_full_spool_is_a_problem(tmp_path: Path) -> None:
    """A spool holding more than IL_AUDIT_SPOOL_MAX_BYTES drops new messages: a problem."""
    root = tmp_path / "spool"
    spool = Spool(root, 64 * 1024 * 1024)
    assert spool.append(b"x" * (1024 * 1024 + 1), {"il_audit_count": "1"}) is not None
    spool.sync()
    spool.close()

    result = doctor(
        IL_AUDIT_TRANSPORT="off", IL_AUDIT_SPOOL_DIR=str(root), IL_AUDIT_SPOOL_MAX_BYTES="1048576"
    )

    assert result.exit_code == 1, result.output
    assert "PROBLEM: spool" in result.output
    assert "IL_AUDIT_SPOOL_MAX_BYTES" in result.output.strip().splitlines()[-1]


def test_help_documents_the_verdicts_and_exit_codes() -> None:
    """--help names the three verdicts with their exit codes, the formats and the JSON keys."""
    text = " ".join(CliRunner().invoke(cli, ["doctor", "--help"]).output.split())

    for claim in (
        "0 ok",
        "1 problem",
        "3 unknown",
        "an invalid setting",
        "--format [table|json]",
        "IL_AUDIT_DOCTOR_FORMAT",
        "Same as --format json",
        "orphaned_directories",
        "il_audit.doctor()",
    ):
        assert claim in text, claim


def test_doctor_shows_the_effective_retention_of_each_family() -> None:
    """A `retention` finding and JSON key: days per family (`*` the rest, null forever) and
    the partition expiry, the longest."""
    env = {
        "IL_AUDIT_TRANSPORT": "memory",
        "IL_AUDIT_RETENTION_DAYS": "400",
        "IL_AUDIT_RETENTION_DAYS_BY_FAMILY": "chat.model_call=30,dead_letters=30",
    }
    data = report(doctor("--json", **env))
    assert data["retention"] == {
        "partition_expiration_days": 400,
        "families": {"*": 400, "chat.model_call": 30, "dead_letters": 30},
    }
    assert finding(data, "retention")["value"] == "* 400 d, chat.model_call 30 d, dead_letters 30 d"
    assert report(doctor("--json", IL_AUDIT_TRANSPORT="memory"))["retention"] == {
        "partition_expiration_days": None,
        "families": {"*": None, "dead_letters": None},
    }
