"""The embedded file shared between processes: an app writing, `il-audit query` reading,
and `il-audit dev up` / `down` managing the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import duck
from tests.support.cli import ROOT, run_cli
from tests.support.processes import alive
from tests.support.waiting import rounds, wait_until


def run(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_query_works_while_another_process_is_emitting(tmp_path: Path) -> None:
    """Queries from a second process succeed during emission and see the count grow to the total."""
    database = tmp_path / "shared.duckdb"
    writer = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/integration/scripts/emit_local.py"), "6000", "100"],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "IL_AUDIT_TRANSPORT": "local",
            "IL_AUDIT_DUCKDB_PATH": str(database),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    counts: list[int] = []
    try:
        for _ in rounds(120, interval=0.2):  # a reader sampling while the writer runs
            if writer.poll() is not None:
                break
            if database.exists():
                result = run_cli(
                    "query",
                    "SELECT COUNT(*) AS n FROM events",
                    "--database",
                    str(database),
                    "--format",
                    "json",
                )
                assert result.returncode == 0, result.stderr
                counts.append(json.loads(result.stdout)[0]["n"])
        out, err = writer.communicate(timeout=120)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["flushed"] is True
    assert (stats["published"], stats["dropped"], stats["failed"]) == (6000, 0, 0)
    assert len(counts) >= 2, "the reader got in at least twice while the writer ran"
    assert counts == sorted(counts)
    final = run_cli(
        "query",
        "SELECT COUNT(DISTINCT event_id) AS n FROM events",
        "--database",
        str(database),
        "--format",
        "json",
    )
    assert json.loads(final.stdout) == [{"n": 6000}]


EMIT_BILLING = (
    "import il_audit\n"
    "il_audit.emit('billing.invoice.sent', context=il_audit.AuditContext(app='devapp'))\n"
    "assert il_audit.flush_audit_writer(30).complete\n"
)
"""An app emitting an event type the function knows only with IL_AUDIT_EXTRA_EVENT_TYPES."""


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_dev_up_receives_events_from_another_process_and_down_stops_everything(
    tmp_path: Path,
) -> None:
    """dev up -> an app process emits -> rows arrive -> dev down leaves no process behind.

    ``up`` runs at the project's root; ``env``, ``status`` and ``down`` run from a
    subdirectory and find the stack's ``.il-audit-dev/`` above it, as git finds ``.git``.
    """
    state_dir = tmp_path / ".il-audit-dev"
    subdirectory = tmp_path / "examples"
    subdirectory.mkdir()
    env = {"IL_AUDIT_DEV_DIR": "", "PUBSUB_EMULATOR_HOST": ""}
    up = run_cli("dev", "up", env=env, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    try:
        state = json.loads((state_dir / "state.json").read_text())
        pids = [component["pid"] for component in state["components"]]
        assert all(alive(pid) for pid in pids)
        exports = run_cli("dev", "env", env=env, cwd=subdirectory).stdout.splitlines()
        app_env = dict(line.removeprefix("export ").split("=", 1) for line in exports)
        app = run(
            [
                sys.executable,
                "-c",
                "import il_audit\n"
                "from il_audit import taxonomy as T\n"
                "ctx = il_audit.AuditContext(app='devapp')\n"
                "for i in range(50): il_audit.emit(T.AUTH_LOGOUT, context=ctx)\n"
                "assert il_audit.flush_audit_writer(30).complete\n",
            ],
            app_env,
        )
        assert app.returncode == 0, app.stderr
        database = Path(app_env["IL_AUDIT_DUCKDB_PATH"])
        sql = "SELECT count(*) FROM events WHERE app='devapp'"
        wait_until(lambda: duck.count(database, sql) >= 50, 60, "the app's 50 rows")
        assert duck.count(database, sql) == 50
        status = run_cli("dev", "status", "--format", "json", env=env, cwd=subdirectory)
        assert status.returncode == 0, status.stdout
        report = json.loads(status.stdout)
        assert report["healthy"] is True
        assert [(c["pid"], c["state"]) for c in report["components"]] == [(p, "up") for p in pids]
        assert report["delivery"]["ok"] is True
        # A billing.* event is dead-lettered; restart-function with the type known (this
        # shell's environment) keeps the emulator and that dead letter; the next one lands.
        emit_billing = [sys.executable, "-c", EMIT_BILLING]
        assert run(emit_billing, app_env).returncode == 0
        letters = "SELECT count(*) FROM dead_letters"
        wait_until(lambda: duck.count(database, letters) == 1, 60, "the dead letter")
        billing = {**env, "IL_AUDIT_EXTRA_EVENT_TYPES": "billing.*"}
        log = state_dir / "function.log"
        before = log.read_bytes()
        assert b"1 dead-lettered" in before  # what the first function said is kept
        restarted = run_cli(
            "dev", "restart-function", "--format", "json", env=billing, cwd=subdirectory
        )
        assert restarted.returncode == 0, restarted.stderr
        document = json.loads(restarted.stdout)
        assert (document["log"], document["previous_log"]) == (str(log), f"{log}.1")
        assert Path(f"{log}.1").read_bytes().startswith(before)
        assert b"1 dead-lettered" not in log.read_bytes()
        after = json.loads((state_dir / "state.json").read_text())["components"]
        assert [c["pid"] for c in after if c["name"] == "pubsub-emulator"] == pids[:1]
        [function_pid] = [c["pid"] for c in after if c["name"] == "function"]
        assert function_pid not in pids
        pids.append(function_pid)
        assert run(emit_billing, app_env).returncode == 0
        sql_billing = "SELECT count(*) FROM events WHERE event_type='billing.invoice.sent'"
        wait_until(lambda: duck.count(database, sql_billing) == 1, 60, "the billing row")
        waiting = run_cli("dlq", "inspect", "--format", "json", env=app_env)
        assert waiting.returncode == 0, waiting.stderr
        assert [group["messages"] for group in json.loads(waiting.stdout)] == [1]
    finally:
        down = run_cli("dev", "down", env=env, cwd=subdirectory)
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    wait_until(lambda: not any(alive(pid) for pid in pids), 10, "dev down's processes to exit")
    assert run_cli("dev", "status", env=env, cwd=subdirectory).returncode == 1
