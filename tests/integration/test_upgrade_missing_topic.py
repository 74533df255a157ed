"""A safe upgrade: a host publishing to a topic nobody provisioned (a 1.0.35 host pulled to
2.0.0 by its pin) hears it loudly, once, and `il-audit doctor` calls it a problem.

The official Pub/Sub emulator, with the topic absent.
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest

import il_audit
from il_audit.operations.doctor import diagnose
from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings
from tests.support.pubsub import PROJECT

CTX = AuditContext(app="upgraded-host", actor_uid="u-1")


def test_a_missing_topic_logs_one_error_and_doctor_reports_a_problem(
    pubsub_emulator_host: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three messages to an absent topic: emit() returns at once, the events fail, and one
    error names the topic and `il-audit infra apply`; doctor's verdict is a problem naming
    both (exit code 1), and asked in-process (`il_audit.doctor()`) it shows the last publish
    error this process met."""
    topic = f"absent-{uuid.uuid4().hex[:8]}"
    topic_path = f"projects/{PROJECT}/topics/{topic}"
    publisher = AuditPublisher(
        make_settings(transport="pubsub", project=PROJECT, topic=topic, max_events_per_message=1)
    )
    with caplog.at_level(logging.ERROR, logger="il_audit"):
        started = time.perf_counter()
        ids = [publisher.emit(T.AUTH_LOGOUT, context=CTX) for _ in range(3)]
        emitting = time.perf_counter() - started
        result = publisher.flush(20)
    publisher.shutdown(1)
    assert all(ids)
    assert emitting < 0.5  # the check and the publishes run on other threads
    assert result.complete is False
    assert publisher.stats().failed == 3
    loud = [r.getMessage() for r in caplog.records if "does not exist" in r.getMessage()]
    assert len(loud) == 1, loud
    assert topic_path in loud[0]
    assert "`il-audit infra apply`" in loud[0]

    diagnosis = diagnose(
        {
            "IL_AUDIT_TRANSPORT": "pubsub",
            "IL_BQ_LOGS_PROJECT": PROJECT,
            "IL_AUDIT_TOPIC": topic,
            "PUBSUB_EMULATOR_HOST": pubsub_emulator_host,
        },
        lookup_timeout=5,
    )
    assert diagnosis.verdict == "problem"
    assert diagnosis.exit_code == 1  # the CLI prints "PROBLEM: ..." and exits 1
    assert topic_path in diagnosis.reason
    assert "`il-audit infra apply`" in diagnosis.reason
    assert diagnosis.as_dict()["last_publish_error"] is None  # diagnose() looks at no process

    for key, value in {
        "IL_AUDIT_TRANSPORT": "pubsub",
        "IL_BQ_LOGS_PROJECT": PROJECT,
        "IL_AUDIT_TOPIC": topic,
    }.items():
        monkeypatch.setenv(key, value)
    in_process = il_audit.doctor(timeout=5).as_dict()
    assert in_process["verdict"] == "problem"
    error = in_process["last_publish_error"]
    assert error is not None
    assert "could not be published" in error["message"]
    assert "Topic not found" in error["message"]
