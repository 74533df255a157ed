"""`il-audit doctor` against the official Pub/Sub emulator: ok (exit 0) with the topic there,
a problem (exit 1) with it missing, each through the real CLI."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from tests.support.pubsub import PROJECT, create_topic_with_subscription


@pytest.fixture
def dev_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What `eval "$(il-audit dev env)"` leaves, and nothing from the machine running the tests."""
    for key in list(os.environ):
        if key.startswith(("IL_", "GOOGLE_", "GCP_", "GCE_", "K_", "CLOUDSDK_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "pubsub")
    monkeypatch.setenv("IL_BQ_LOGS_PROJECT", PROJECT)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("pubsub_emulator_host", "dev_env")
def test_doctor_says_ok_only_when_the_topic_is_there() -> None:
    """A provisioned topic: ok, exit 0, the permission granted. The same emulator without the
    topic: a problem, exit 1, naming `il-audit infra apply` (issue 23)."""
    topic = create_topic_with_subscription("doctor")
    healthy = CliRunner(env={"IL_AUDIT_TOPIC": topic.topic_id}).invoke(
        cli, ["doctor", "--format", "json", "--timeout", "5"]
    )
    assert healthy.exit_code == 0, healthy.output
    data = json.loads(healthy.output)
    assert (data["verdict"], data["exit_code"]) == ("ok", 0)
    assert data["summary"] == f"publishing to {topic.topic_path} would work"
    assert {"name": "permission", "value": "granted"}.items() <= next(
        item for item in data["findings"] if item["name"] == "permission"
    ).items()

    missing = f"absent-{uuid.uuid4().hex[:8]}"
    result = CliRunner(env={"IL_AUDIT_TOPIC": missing}).invoke(cli, ["doctor", "--timeout", "5"])
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"PROBLEM: publishing to projects/{PROJECT}/topics/{missing}")
    assert "`il-audit infra apply`" in last
