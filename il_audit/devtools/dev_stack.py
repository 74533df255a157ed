"""``il-audit dev``: start, describe and stop the local stack, remembering what it started.

``up`` starts the official Pub/Sub emulator, functions-framework serving the
subscriber and, on request, the BigQuery stand-in; provisions the topics and
subscriptions; and writes ``state.json`` in the state directory (pids, ports,
the environment an app needs). ``down`` stops only the processes recorded
there, after checking that each pid still runs what we started.
``delivery`` checks that the events subscription still pushes to the function
``up`` started (an ``infra apply`` can turn it into a pull subscription).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from il_audit.devtools import pubsub_emulator
from il_audit.devtools.errors import DevStackError
from il_audit.devtools.local_stack import PubSubLayout, provision_pubsub, start_function
from il_audit.devtools.ports import busy

DEFAULT_PROJECT: Final = "il-audit-local"
STATE_FILE: Final = "state.json"
STATE_DIR: Final = ".il-audit-dev"


def find_state_dir(start: Path) -> Path | None:
    """The nearest ``.il-audit-dev/`` in ``start`` or a parent of it, the way git finds ``.git``."""
    for directory in (start, *start.parents):
        candidate = directory / STATE_DIR
        if candidate.is_dir():
            return candidate
    return None


@dataclass
class Component:
    """A process ``up`` started."""

    name: str
    pid: int
    port: int
    url: str
    marker: str
    """A string its command line contains (guards against pid reuse)."""
    log: str


@dataclass
class DevState:
    """What ``up`` started and the environment apps need."""

    project: str
    components: list[Component] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    function_env: dict[str, str] = field(default_factory=dict)
    """The variables ``up`` set for the function on top of the shell's (the stack's wiring)."""

    def save(self, directory: Path) -> Path:
        """Write ``state.json`` in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / STATE_FILE
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, directory: Path) -> DevState | None:
        """The saved state, or None when nothing was started from ``directory``."""
        path = directory / STATE_FILE
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        components = [Component(**item) for item in data.pop("components", [])]
        return cls(components=components, **data)


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def is_running(component: Component) -> bool:
    """Whether the pid is alive and still runs the command we started."""
    try:
        os.kill(component.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = _cmdline(component.pid)
    return not cmdline or component.marker in cmdline


def stop_component(component: Component, timeout: float = 10.0) -> bool:
    """Stop a recorded process group; False if it was not running (or is not ours)."""
    if not is_running(component):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(component.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(component.pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(component.pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours is gone for every purpose but the process table.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True


def _check_before_start(**ports: int | None) -> None:
    """Refuse ports something already listens on, before anything starts."""
    taken = [f"--{name}-port {port}" for name, port in ports.items() if port and busy(port)]
    if taken:
        raise DevStackError(
            f"port already in use: {', '.join(taken)}: choose another, or leave the option "
            "unset for a free one (an old stack? `il-audit dev down`)"
        )


def up(
    directory: Path,
    *,
    project: str = DEFAULT_PROJECT,
    topic: str,
    dlq_topic: str,
    pubsub_port: int | None = None,
    function_port: int | None = None,
    bigquery: bool = False,
    bigquery_port: int | None = None,
) -> DevState:
    """Start everything and provision Pub/Sub; stops what it started if a step fails."""
    existing = DevState.load(directory)
    if existing is not None and any(is_running(c) for c in existing.components):
        raise DevStackError(
            f"a local stack from {directory} is already running; `il-audit dev down` first"
        )
    _check_before_start(pubsub=pubsub_port, function=function_port, bigquery=bigquery_port)
    if bigquery:
        from il_audit.devtools import bigquery_standin

        bigquery_standin.find_python()  # no stand-in: say so before starting anything
    directory.mkdir(parents=True, exist_ok=True)
    directory = directory.resolve()  # state.json's paths hold from any subdirectory
    state = DevState(project=project)
    try:
        emulator = pubsub_emulator.start(pubsub_port, log_path=directory / "pubsub-emulator.log")
        state.components.append(
            Component("pubsub-emulator", emulator.process.pid, emulator.port,
                      f"http://{emulator.host}/", "pubsub-emulator", str(emulator.log_path))
        )  # fmt: skip
        function_env = {
            "PUBSUB_EMULATOR_HOST": emulator.host,
            "GOOGLE_CLOUD_PROJECT": project,
            "IL_AUDIT_TOPIC": topic,
            "IL_AUDIT_DLQ_TOPIC": dlq_topic,
            "IL_AUDIT_SINK": "duckdb",
            "IL_AUDIT_DUCKDB_PATH": str((directory / "local.duckdb").resolve()),
        }
        if bigquery:
            from il_audit.devtools import bigquery_standin

            standin = bigquery_standin.start(
                project,
                port=bigquery_port,
                exit_with_parent=False,
                log_path=directory / "bigquery-standin.log",
            )
            state.components.append(
                Component("bigquery-standin", standin.process.pid, standin.port, standin.url,
                          "bqemulator", str(standin.log_path))
            )  # fmt: skip
            function_env.update(
                {
                    "IL_AUDIT_SINK": "bigquery",
                    "IL_BQ_API_ENDPOINT": standin.url,
                    "IL_BQ_STORAGE_API_ENDPOINT": standin.grpc_address,
                    # bqemulator 1.4.0 runs AppendRows on a gRPC thread against the same
                    # DuckDB connection its REST queries use on the event loop: a query
                    # while the function appends can hang the stand-in. insertAll goes
                    # through the event loop, so a stack that is queried while it loads
                    # writes that way (the Storage Write path is tested on its own).
                    "IL_AUDIT_BQ_WRITE_METHOD": "insert_all",
                }
            )
            _create_bigquery_resources(function_env)
        state.function_env = function_env
        server = start_function(function_env, port=function_port,
                                log_path=directory / "function.log")  # fmt: skip
        state.components.append(
            Component("function", server.process.pid, server.port, server.url,
                      "functions_framework", str(server.log_path))
        )  # fmt: skip
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        provision_pubsub(PubSubLayout.for_topic(project, topic, dlq_topic), server.url)
        state.env = {
            "PUBSUB_EMULATOR_HOST": emulator.host,
            "GOOGLE_CLOUD_PROJECT": project,
            "IL_AUDIT_TRANSPORT": "pubsub",
            "IL_AUDIT_TOPIC": topic,
            "IL_AUDIT_DLQ_TOPIC": dlq_topic,
        }
        if bigquery:
            for name in ("IL_BQ_API_ENDPOINT", "IL_BQ_STORAGE_API_ENDPOINT"):
                state.env[name] = function_env[name]
        else:
            state.env["IL_AUDIT_DUCKDB_PATH"] = function_env["IL_AUDIT_DUCKDB_PATH"]
    except BaseException:
        for component in reversed(state.components):
            stop_component(component)
        raise
    state.save(directory)
    return state


def _create_bigquery_resources(function_env: dict[str, str]) -> None:
    """The dataset, tables and views in the stand-in, as ``infra apply`` creates them, so
    that ``il-audit report --bigquery`` and queries of the views work on the dev stack."""
    from il_audit.config.settings import AuditSettings
    from il_audit.operations.infra import apply

    settings = AuditSettings.from_env({**os.environ, **function_env})
    try:
        apply(settings, pubsub=False)
    except Exception as exc:
        raise DevStackError(
            f"could not create the tables and views in the BigQuery stand-in at "
            f"{function_env['IL_BQ_API_ENDPOINT']}: {exc}"
        ) from exc


def down(directory: Path) -> list[tuple[str, bool]]:
    """Stop what ``up`` recorded; returns (name, was running) per component."""
    state = DevState.load(directory)
    if state is None:
        return []
    results = [(c.name, stop_component(c)) for c in reversed(state.components)]
    (directory / STATE_FILE).unlink(missing_ok=True)
    return results


def restart_function(directory: Path) -> Component:
    """Stop the stack's function and start it again on its port, with this process's
    environment under the stack's wiring (a new ``IL_AUDIT_EXTRA_EVENT_TYPES``, say).

    The emulator, its subscriptions and the dead letters waiting there stay as they are.
    """
    state = DevState.load(directory)
    if state is None:
        raise DevStackError(f"no local stack recorded in {directory}; run `il-audit dev up`")
    found = [c for c in state.components if c.name == "function"]
    if not found or not state.function_env:
        raise DevStackError(
            f"the stack in {directory} was started by an older il-audit: "
            "`il-audit dev down`, then `il-audit dev up`"
        )
    old = found[0]
    stop_component(old)
    log_path = directory / "function.log"
    # Keep the stopped function's log (what it said about the dead letters being fixed):
    # the new process opens function.log for writing, which would empty it.
    if log_path.exists():
        log_path.replace(previous_log(log_path))
    server = start_function(state.function_env, port=old.port, log_path=log_path)
    new = Component(
        "function", server.process.pid, server.port, server.url, old.marker, str(server.log_path)
    )
    state.components[state.components.index(old)] = new
    state.save(directory)
    return new


def previous_log(log_path: Path) -> Path:
    """Where :func:`restart_function` keeps the log of the function it stopped: ``<log>.1``."""
    return log_path.with_name(log_path.name + ".1")


def env_lines(state: DevState) -> list[str]:
    """``export NAME=value`` lines for ``eval "$(il-audit dev env)"``."""
    return [f"export {name}={value}" for name, value in state.env.items()]


@dataclass(frozen=True)
class Delivery:
    """Where the stack's events subscription delivers, against where ``up`` pointed it."""

    subscription: str
    expected: str
    actual: str | None
    """The push endpoint now; None for a pull subscription (or one that is gone)."""
    missing: bool = False

    @property
    def ok(self) -> bool:
        """Whether it still pushes to the function."""
        return not self.missing and self.actual == self.expected

    def text(self) -> str:
        """One line for ``dev status``."""
        if self.ok:
            return f"pushes to {self.expected}"
        if self.missing:
            what = "is gone"
        elif self.actual is None:
            what = "is a pull subscription now"
        else:
            what = f"pushes to {self.actual}"
        return (
            f"problem: {what}, not a push to the function at {self.expected}: events no longer "
            "arrive; restart the stack (`il-audit dev down`, then `il-audit dev up`)"
        )


def delivery(state: DevState, timeout: float = 5.0) -> Delivery | None:
    """Check where the events subscription pushes; None when the state has no function.

    Raises google.api_core's errors when the emulator does not answer within ``timeout``.
    """
    from google.api_core import exceptions as core_exceptions

    from il_audit.operations.pubsub_resources import PubSubProvisioner

    function = next((c for c in state.components if c.name == "function"), None)
    host = state.env.get("PUBSUB_EMULATOR_HOST")
    topic = state.env.get("IL_AUDIT_TOPIC")
    if function is None or not host or not topic:
        return None
    layout = PubSubLayout.for_topic(state.project, topic, state.env.get("IL_AUDIT_DLQ_TOPIC"))
    # The client finds the emulator through the environment when it is made: this stack's,
    # whatever a (possibly stale) shell says.
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        provisioner = PubSubProvisioner(state.project, timeout=timeout)
    finally:
        if previous is None:
            del os.environ["PUBSUB_EMULATOR_HOST"]
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous
    try:
        actual = provisioner.push_endpoint(layout.subscription)
    except core_exceptions.NotFound:
        return Delivery(layout.subscription, function.url, None, missing=True)
    finally:
        provisioner.close()
    return Delivery(layout.subscription, function.url, actual)
