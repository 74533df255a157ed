"""`infra apply` against a running `il-audit dev up` stack (issue 24 §1): the repro.

`dev up; eval "$(il-audit dev env)"; il-audit infra apply --no-bigquery` used to turn the
stack's push subscription into a pull one, silently: events stopped arriving while
`dev status` said up. Now the plan shows each field before and after, apply refuses a
change of delivery without --allow-delivery-change (and changes nothing), and
`dev status` reports a subscription that no longer pushes to the function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from il_audit.cli import cli
from il_audit.devtools.ports import free_port
from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.schemas import taxonomy as T
from tests.support import duck
from tests.support.cli import run_cli
from tests.support.factories import make_settings
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.usefixtures("pubsub_emulator_host"), pytest.mark.subprocess]


@pytest.fixture
def dev_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """`il-audit dev up` in its own process; this process's environment is `dev env`'s."""
    state_dir = tmp_path / "dev"
    env = {"IL_AUDIT_DEV_DIR": str(state_dir), "PUBSUB_EMULATOR_HOST": ""}
    up = run_cli("dev", "up", env=env)
    assert up.returncode == 0, up.stderr
    try:
        state = json.loads((state_dir / "state.json").read_text())
        for name, value in state["env"].items():
            monkeypatch.setenv(name, value)
        [function] = [c for c in state["components"] if c["name"] == "function"]
        yield {"state_dir": state_dir, "function_url": function["url"], **state["env"]}
    finally:
        down = run_cli("dev", "down", env=env)
        assert down.returncode == 0, down.stderr


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def emit_and_wait(stack: dict[str, Any], app: str) -> None:
    """One event through the stack's topic; fails unless its row arrives."""
    publisher = AuditPublisher(
        make_settings(
            transport="pubsub",
            project=stack["GOOGLE_CLOUD_PROJECT"],
            topic=stack["IL_AUDIT_TOPIC"],
        )
    )
    publisher.emit(T.AUTH_LOGOUT, context=AuditContext(app=app))
    assert publisher.flush(30).complete
    publisher.shutdown(5)
    database = Path(stack["IL_AUDIT_DUCKDB_PATH"])
    sql = f"SELECT count(*) FROM events WHERE app='{app}'"
    wait_until(lambda: duck.count(database, sql) == 1, 30, f"the row of {app}")


def test_apply_refuses_to_stop_the_dev_stacks_push_unless_allowed(
    dev_stack: dict[str, Any],
) -> None:
    """The repro: the dry run warns, apply refuses (delivery goes on), the flag applies and
    `dev status` fails."""
    endpoint = dev_stack["function_url"]
    state_dir = str(dev_stack["state_dir"])
    subscription = (
        f"projects/{dev_stack['GOOGLE_CLOUD_PROJECT']}/subscriptions/"
        f"{dev_stack['IL_AUDIT_TOPIC']}-sub"
    )

    dry = invoke("infra", "apply", "--no-bigquery", "--dry-run")
    refused = invoke("infra", "apply", "--no-bigquery")

    assert dry.exit_code == 0, dry.output
    [line] = [line for line in dry.stdout.splitlines() if subscription + " " in line]
    assert line.startswith("~ subscription")
    assert f"push_endpoint: {endpoint} → none (pull)" in line
    assert "retry_backoff: 1-10 s → 10-600 s" in line
    assert "apply refuses this without --allow-delivery-change" in dry.stderr
    assert refused.exit_code == 1
    assert refused.stdout == ""
    [error] = refused.stderr.splitlines()
    assert f"{subscription} stops pushing to {endpoint} (becomes pull)" in error
    assert "--allow-delivery-change" in error
    emit_and_wait(dev_stack, "after-refusal")
    status = invoke("dev", "status", "--state-dir", state_dir)
    assert status.exit_code == 0, status.output
    assert f"pushes to {endpoint}" in status.stdout

    allowed = invoke(
        "infra", "apply", "--no-bigquery", "--allow-delivery-change", "--format", "json"
    )
    broken = invoke("dev", "status", "--state-dir", state_dir)

    assert allowed.exit_code == 0, allowed.output
    document = json.loads(allowed.stdout)
    assert (document["dry_run"], document["changed"]) == (False, True)
    [update] = [change for change in document["changes"] if change["action"] == "update"]
    assert update["name"] == subscription
    assert {"field": "push_endpoint", "before": endpoint, "after": "none (pull)"} in update[
        "fields"
    ]
    assert update["delivery_change"] == f"{subscription} stops pushing to {endpoint} (becomes pull)"
    assert broken.exit_code == 1
    assert "is a pull subscription now" in broken.stdout
    assert "il-audit dev up" in broken.stdout


def test_apply_against_a_dead_emulator_fails_in_one_line_within_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stale `dev env`: Pub/Sub calls give up after --timeout, naming the address and fix."""
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", address)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "stale")

    result = invoke("infra", "apply", "--no-bigquery", "--dry-run", "--timeout", "2")

    assert result.exit_code == 1
    [error] = result.stderr.splitlines()
    assert f"Pub/Sub at {address} did not answer within 2 s" in error
    assert "PUBSUB_EMULATOR_HOST" in error
