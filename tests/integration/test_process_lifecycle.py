"""Fork and interpreter exit: events survive both, without duplicates (real emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pubsub import create_topic_with_subscription

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, topic_id: str, project: str) -> object:
    env = {
        **os.environ,
        "IL_AUDIT_TRANSPORT": "pubsub",
        "GOOGLE_CLOUD_PROJECT": project,
        "IL_AUDIT_TOPIC": topic_id,
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_fork_loses_and_duplicates_nothing() -> None:
    """Preloaded parent events, child events and later parent events each arrive once."""
    target = create_topic_with_subscription()
    result = _run("fork_worker.py", "50", topic_id=target.topic_id, project=target.project)
    assert isinstance(result, dict)
    assert result["flushed"]
    assert result["child_flushed"]
    expected = result["before"] + result["child"] + result["after"]
    assert len(set(expected)) == 150
    envelopes = target.pull_envelopes(expect_events=150, timeout=60)
    ids = [envelope["event_id"] for envelope in envelopes]
    assert sorted(ids) == sorted(expected)
    phases = {envelope["event_id"]: envelope["payload"]["phase"] for envelope in envelopes}
    assert {phases[event_id] for event_id in result["child"]} == {"child"}


@pytest.mark.parametrize("mode", ["main", "mp-child", "mp-parent"])
@pytest.mark.usefixtures("pubsub_emulator_host")
def test_exit_without_flush_still_publishes(mode: str) -> None:
    """The exit hooks flush: a normal exit, and multiprocessing children (which skip atexit)."""
    target = create_topic_with_subscription()
    ids = _run(
        "exit_without_flush.py", mode, "20", topic_id=target.topic_id, project=target.project
    )
    assert isinstance(ids, list)
    envelopes = target.pull_envelopes(expect_events=len(ids), timeout=60)
    assert sorted(envelope["event_id"] for envelope in envelopes) == sorted(ids)
