"""The deployable bundle, end to end: build it, install it like Cloud Functions, serve it.

`il-audit function bundle` writes main.py, requirements.txt and il-audit's wheel.
A fresh venv installs requirements.txt from inside the directory, as the Cloud
Functions Python build does: the vendored wheel, and its dependencies from the
package index (pip reaches it; its cache keeps reruns quick). That venv's own
functions-framework then serves the directory the way an HTTP-triggered gen2
function runs (FUNCTION_TARGET, FUNCTION_SIGNATURE_TYPE=http, cwd = the source),
and the emulator pushes to it on the path Terraform's push subscription uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from google.cloud import pubsub_v1

from il_audit.cli import cli
from il_audit.devtools.local_stack import FunctionServer, PubSubLayout, provision_pubsub
from il_audit.devtools.ports import free_port, wait_for_http
from il_audit.operations.function_bundle import ENTRY_POINT
from tests.support.duck import peek
from tests.support.factories import envelope_line
from tests.support.pubsub import PROJECT, pull_messages
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`il-audit function bundle --out DIR`, run through the CLI."""
    out = tmp_path_factory.mktemp("bundle") / "function"
    result = CliRunner().invoke(cli, ["function", "bundle", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def fresh_venv(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the bundle's requirements installed from inside the bundle (by our
    pip, pointed at the venv's interpreter: no pip of its own to bootstrap first)."""
    target = tmp_path_factory.mktemp("deployed") / "venv"
    venv.create(target, with_pip=False)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install",
         "--quiet", "-r", "requirements.txt"],
        cwd=bundle, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return target


def _python(venv_dir: Path, code: str, cwd: Path) -> str:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(venv_dir / "bin" / "python"), "-c", code],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_fresh_venv_runs_il_audit_from_the_vendored_wheel(
    bundle: Path, fresh_venv: Path
) -> None:
    """pip installed il-audit from the wheel beside requirements.txt, not from an index."""
    [wheel] = bundle.glob("il_audit-*.whl")
    found = json.loads(
        _python(
            fresh_venv,
            "import json, il_audit, functions_framework\n"
            "from importlib.metadata import distribution\n"
            "d = distribution('il-audit')\n"
            "print(json.dumps({'file': il_audit.__file__,\n"
            "  'direct_url': json.loads(d.read_text('direct_url.json') or 'null')}))",
            bundle,
        )
    )
    assert found["file"].startswith(str(fresh_venv))
    assert found["direct_url"]["url"] == wheel.resolve().as_uri()


@pytest.fixture
def served(
    bundle: Path, fresh_venv: Path, pubsub_emulator_host: str, tmp_path: Path
) -> Iterator[tuple[PubSubLayout, FunctionServer, Path]]:
    """The bundle served by the fresh venv's functions-framework, fed by a push subscription."""
    database = tmp_path / "bundle.duckdb"
    layout = PubSubLayout.for_topic(PROJECT, f"bundle-{os.getpid()}")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        {
            # What Cloud Functions sets for an HTTP-triggered function.
            "FUNCTION_TARGET": ENTRY_POINT,
            "FUNCTION_SIGNATURE_TYPE": "http",
            "PUBSUB_EMULATOR_HOST": pubsub_emulator_host,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_TOPIC": layout.topic,
            "IL_AUDIT_DLQ_TOPIC": layout.dlq_topic,
            "IL_AUDIT_SINK": "duckdb",
            "IL_AUDIT_DUCKDB_PATH": str(database),
        }
    )
    log_path = tmp_path / "function.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(fresh_venv / "bin" / "functions-framework"), "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=bundle, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    server = FunctionServer(port, process, log_path, log)
    try:
        assert wait_for_http(server.url, 60, alive=server.alive), server.log_tail()
        # The path Terraform's push subscription uses (the CloudEvent source names the topic).
        endpoint = f"{server.url}projects/{PROJECT}/topics/{layout.topic}"
        provision_pubsub(layout, endpoint, max_delivery_attempts=5)
        yield layout, server, database
    finally:
        server.stop()


def test_the_served_bundle_stores_pushed_events_and_dead_letters_poison(
    served: tuple[PubSubLayout, FunctionServer, Path],
) -> None:
    """Envelopes published to the topic become rows; an unknown type becomes a dead letter."""
    layout, server, database = served
    good = [envelope_line(app="bundle") for _ in range(3)]
    poison = envelope_line(app="bundle", event_type="not.in.taxonomy")
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(PROJECT, layout.topic)
    publisher.publish(topic, b"\n".join(good), il_audit_schema="1", il_audit_count="3").result(30)
    publisher.publish(topic, poison, il_audit_schema="1", il_audit_count="1").result(30)
    sent = sorted(json.loads(line)["event_id"] for line in good)
    wait_until(
        lambda: len(peek(database, "SELECT event_id FROM events")) == 3, 60, "three event rows"
    )
    assert sorted(str(row[0]) for row in peek(database, "SELECT event_id FROM events")) == sent
    wait_until(
        lambda: peek(database, "SELECT error_class FROM dead_letters") == [("unknown_event_type",)],
        60,
        "the dead letter",
    )
    [message] = pull_messages(
        f"projects/{PROJECT}/subscriptions/{layout.dlq_subscription}", expect_events=1
    )
    assert message.attributes["il_audit_error_class"] == "unknown_event_type"
    assert "Traceback" not in server.log_text()
