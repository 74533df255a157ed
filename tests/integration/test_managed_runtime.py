"""`auto` on a managed runtime, in real subprocesses: Pub/Sub, never a file, project from metadata.

Each case runs a fresh Python process with ``K_SERVICE`` set and no project
variable, a fake metadata server on 127.0.0.1 (google-auth honours
``GCE_METADATA_HOST`` / ``GCE_METADATA_IP``) and the official Pub/Sub emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from il_audit.devtools.ports import free_port
from tests.support.cli import ROOT, run_cli
from tests.support.metadata_server import MetadataServer
from tests.support.pubsub import create_topic_with_subscription
from tests.support.reliability import delivery, record

SCRIPT = ROOT / "tests/integration/scripts/emit_steady.py"
META_PROJECT = "il-audit-test"  # the emulator project the fake metadata server names


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The process environment minus every project hint, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IL_", "GOOGLE_", "GCP_", "GCE_", "K_", "CLOUDSDK_"))
        and key not in {"CLOUD_RUN_JOB", "FUNCTION_TARGET", "GAE_SERVICE"}
    }
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "HOME": str(home),
            "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),  # no gcloud credentials unless written
            "IL_AUDIT_RETRY_MAX_SECONDS": "1",
            # The harness's rule (tests/conftest.py): no shutdown heartbeat, one event more
            # than the test emitted.
            "IL_AUDIT_HEARTBEAT_SECONDS": "0",
        }
    )
    env.update(extra)
    return env


def run_emitter(env: dict[str, str], cwd: Path, total: int = 20) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(total), "1000", "60"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def doctor(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("doctor", "--json", "--timeout", "5", env=env, cwd=cwd, inherit=False)
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def finding(report: dict[str, Any], name: str) -> dict[str, str]:
    (item,) = [entry for entry in report["findings"] if entry["name"] == name]
    return item


def test_cloud_run_publishes_to_the_metadata_project(
    pubsub_emulator_host: str, tmp_path: Path
) -> None:
    """With K_SERVICE and no project variable, events reach the metadata project's topic."""
    target = create_topic_with_subscription("managed")
    server = MetadataServer(META_PROJECT)
    try:
        env = clean_env(
            tmp_path,
            K_SERVICE="checkout",
            GCE_METADATA_HOST=server.host,
            GCE_METADATA_IP=server.host,
            PUBSUB_EMULATOR_HOST=pubsub_emulator_host,
            IL_AUDIT_TOPIC=target.topic_id,
        )
        process = run_emitter(env, tmp_path)
        stdout, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr
        report = lines(stdout)
        emitted = [event_id for line in report if "ids" in line for event_id in line["ids"]]
        assert report[-1]["flushed"] is True
        received = target.pull_envelopes(expect_events=len(emitted))
        figures = delivery(emitted, [envelope["event_id"] for envelope in received])
        record("Cloud Run without a project variable (project from metadata)", **figures)
        assert sorted(envelope["event_id"] for envelope in received) == sorted(emitted)
        assert {envelope["app"] for envelope in received} == {"steady"}
        code, diagnosis = doctor(env, tmp_path)
    finally:
        server.stop()
    assert not list(tmp_path.glob("*.duckdb")), "a managed runtime must never write the file"
    assert code == 0
    assert finding(diagnosis, "transport")["value"] == "pubsub"
    assert "K_SERVICE is set" in finding(diagnosis, "transport")["why"]
    assert finding(diagnosis, "project")["value"] == META_PROJECT
    assert "metadata server" in finding(diagnosis, "project")["why"]
    assert finding(diagnosis, "permission")["value"] == "granted"


def test_events_wait_for_a_metadata_server_that_comes_up_late(
    pubsub_emulator_host: str, tmp_path: Path
) -> None:
    """No file, events waiting in stats and an error naming the variable, then all delivered."""
    target = create_topic_with_subscription("late-metadata")
    port = free_port()
    host = f"127.0.0.1:{port}"
    env = clean_env(
        tmp_path,
        K_SERVICE="checkout",
        GCE_METADATA_HOST=host,
        GCE_METADATA_IP=host,
        PUBSUB_EMULATOR_HOST=pubsub_emulator_host,
        IL_AUDIT_TOPIC=target.topic_id,
    )
    code, diagnosis = doctor(env, tmp_path)
    assert code == 1
    assert finding(diagnosis, "project")["value"] == "none"
    assert "IL_BQ_LOGS_PROJECT" in finding(diagnosis, "project")["why"]
    process = run_emitter(env, tmp_path, total=30)
    assert process.stdout is not None
    assert process.stderr is not None
    errors: list[str] = []
    named = threading.Event()

    def read_errors() -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            errors.append(raw)
            if "IL_BQ_LOGS_PROJECT" in raw:
                named.set()

    reader = threading.Thread(target=read_errors, daemon=True)
    reader.start()
    emitted: list[str] = []
    waiting = json.loads(process.stdout.readline())
    while "stats" not in waiting:
        emitted.extend(waiting.get("ids", []))
        waiting = json.loads(process.stdout.readline())
    assert waiting["stats"]["pending"] == 30
    assert waiting["stats"]["published"] == 0
    assert named.wait(30), "".join(errors)
    assert any("K_SERVICE is set" in line for line in errors)
    server = MetadataServer(META_PROJECT, port=port)
    try:
        stdout, _ = process.communicate(timeout=90)
    finally:
        server.stop()
    final = lines(stdout)[-1]
    received = [envelope["event_id"] for envelope in target.pull_envelopes(expect_events=30)]
    figures = delivery(emitted, received)
    record("metadata server down at first, up later", **figures)
    assert final["flushed"] is True, "".join(errors)
    assert final["stats"]["published"] == 30
    assert figures["lost"] == 0
    assert not list(tmp_path.glob("*.duckdb"))


def test_a_laptop_logged_in_with_gcloud_stays_local(tmp_path: Path) -> None:
    """gcloud credentials naming a project do not make auto publish anywhere."""
    gcloud = tmp_path / "gcloud"
    (gcloud / "configurations").mkdir(parents=True)
    (gcloud / "configurations" / "config_default").write_text("[core]\nproject = laptop-proj\n")
    (gcloud / "active_config").write_text("default")
    (gcloud / "application_default_credentials.json").write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "id.apps.googleusercontent.com",
                "client_secret": "secret",
                "refresh_token": "refresh",
                "quota_project_id": "laptop-proj",
            }
        )
    )
    env = clean_env(tmp_path, IL_AUDIT_DUCKDB_PATH=str(tmp_path / "laptop.duckdb"))
    code, diagnosis = doctor(env, tmp_path)
    assert code == 0
    assert finding(diagnosis, "transport")["value"] == "local"
    assert "gcloud login is deliberately not used" in finding(diagnosis, "transport")["why"]
    process = run_emitter(env, tmp_path, total=5)
    stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 0, stderr
    assert lines(stdout)[-1]["flushed"] is True
    assert (tmp_path / "laptop.duckdb").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IL_AUDIT_WRITE_QUEUE_MAX_SIZE", "ten thousand"),
        ("IL_AUDIT_MAX_EVENTS_PER_MESSAGE", "-3"),
        ("IL_AUDIT_MAX_MESSAGE_BYTES", "big"),
        ("IL_AUDIT_MAX_LATENCY_MS", "soon"),
        ("IL_AUDIT_SHUTDOWN_TIMEOUT_SECONDS", "later"),
        ("IL_AUDIT_RETRY_INITIAL_SECONDS", "0"),
        ("IL_AUDIT_RETRY_MAX_SECONDS", "forever"),
        ("IL_COST_RATES_SOURCE", "spreadsheet"),
        ("IL_COST_RATES_CACHE_SECONDS", "hourly"),
        ("IL_AUDIT_STORE_QUERY_TEXT", "sometimes"),
        ("IL_AUDIT_SPOOL_MAX_BYTES", "lots"),
        ("IL_ENABLE_AUDIT_LOGS", "perhaps"),
    ],
)
@pytest.mark.usefixtures("pubsub_emulator_host")
def test_a_garbage_setting_still_delivers_and_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str, value: str
) -> None:
    """One garbage variable at a time: emit() still reaches the emulator; the log names it."""
    import il_audit

    target = create_topic_with_subscription("garbage")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", target.project)
    monkeypatch.setenv("IL_AUDIT_TOPIC", target.topic_id)
    monkeypatch.setenv(variable, value)
    event_id = il_audit.emit(
        il_audit.taxonomy.AUTH_LOGOUT, context=il_audit.AuditContext(app="garbage")
    )
    assert event_id is not None
    assert il_audit.flush_audit_writer(30).complete
    assert [envelope["event_id"] for envelope in target.pull_envelopes(expect_events=1)] == [
        event_id
    ]
    assert f"{variable}={value!r} is not valid" in caplog.text
