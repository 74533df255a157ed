"""``il-audit dev``: the local stack (Pub/Sub emulator, function, optional BigQuery stand-in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from il_audit.cli._options import format_option, from_settings, shown_default
from il_audit.cli._output import render
from il_audit.devtools.ports import answers

if TYPE_CHECKING:
    from il_audit.devtools.dev_stack import Component


def _state_dir(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path:
    """The given directory, else the nearest ``.il-audit-dev/`` here or above, else ``./``'s."""
    if value is not None:
        return value
    from il_audit.devtools.dev_stack import STATE_DIR, find_state_dir

    return find_state_dir(Path.cwd()) or Path(STATE_DIR)


STATE_DIR_OPTION = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    callback=_state_dir,
    envvar="IL_AUDIT_DEV_DIR",
    help="Where the stack's state, logs and DuckDB file live; default: the nearest "
    ".il-audit-dev/ in this directory or a parent, as git finds .git, else ./.il-audit-dev "
    "(env IL_AUDIT_DEV_DIR).",
)


@click.group()
def dev() -> None:
    """Run the pipeline locally: emulator -> push -> functions-framework -> DuckDB/BigQuery.

    \b
    Examples:
      il-audit dev up                 # emulator + function writing .il-audit-dev/local.duckdb
      eval "$(il-audit dev env)"      # point this shell's apps at it
      il-audit dev status
      IL_AUDIT_EXTRA_EVENT_TYPES='billing.*' il-audit dev restart-function
      il-audit dev down
    """


@dev.command()
@STATE_DIR_OPTION
@click.option(
    "--project",
    default="il-audit-local",
    envvar="IL_AUDIT_DEV_PROJECT",
    help="Project id used in the emulators (env IL_AUDIT_DEV_PROJECT).",
)
@click.option(
    "--topic",
    default=from_settings("topic"),
    show_default=shown_default("topic"),
    envvar="IL_AUDIT_TOPIC",
    help="Events topic (env IL_AUDIT_TOPIC).",
)
@click.option(
    "--dlq-topic",
    default=from_settings("dlq_topic"),
    show_default=shown_default("dlq_topic"),
    envvar="IL_AUDIT_DLQ_TOPIC",
    help="Dead-letter topic (env IL_AUDIT_DLQ_TOPIC).",
)
@click.option(
    "--pubsub-port",
    type=int,
    default=None,
    envvar="IL_AUDIT_DEV_PUBSUB_PORT",
    help="Emulator port; free port if unset (env IL_AUDIT_DEV_PUBSUB_PORT).",
)
@click.option(
    "--function-port",
    type=int,
    default=None,
    envvar="IL_AUDIT_DEV_FUNCTION_PORT",
    help="Function port; free port if unset (env IL_AUDIT_DEV_FUNCTION_PORT).",
)
@click.option(
    "--bigquery/--no-bigquery",
    default=False,
    envvar="IL_AUDIT_DEV_BIGQUERY",
    help="Also start the BigQuery stand-in and write there (env IL_AUDIT_DEV_BIGQUERY).",
)
@click.option(
    "--bigquery-port",
    type=int,
    default=None,
    envvar="IL_AUDIT_DEV_BIGQUERY_PORT",
    help="Stand-in port; free port if unset (env IL_AUDIT_DEV_BIGQUERY_PORT).",
)
@format_option("IL_AUDIT_DEV_FORMAT")
def up(
    state_dir: Path,
    project: str,
    topic: str,
    dlq_topic: str,
    pubsub_port: int | None,
    function_port: int | None,
    bigquery: bool,
    bigquery_port: int | None,
    fmt: str,
) -> None:
    """Start the stack on 127.0.0.1 and provision topics and subscriptions.

    `--format json`: components (name, pid, url, log) and env (what `dev env` exports).
    """
    from il_audit.devtools import dev_stack
    from il_audit.devtools.errors import (
        DevStackError,
        EmulatorNotFoundError,
        StandInNotFoundError,
    )

    try:
        state = dev_stack.up(
            state_dir,
            project=project,
            topic=topic,
            dlq_topic=dlq_topic,
            pubsub_port=pubsub_port,
            function_port=function_port,
            bigquery=bigquery,
            bigquery_port=bigquery_port,
        )
    except (DevStackError, EmulatorNotFoundError, StandInNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        document = {"components": _components(state.components), "env": dict(state.env)}
        click.echo(json.dumps(document, indent=2))
        return
    for component in state.components:
        click.echo(
            f"{component.name:<18} pid {component.pid:<8} {component.url}  log: {component.log}"
        )
    click.echo("\nPoint an app at it:")
    for line in dev_stack.env_lines(state):
        click.echo(f"  {line}")
    click.echo('(or: eval "$(il-audit dev env)")')


@dev.command()
@STATE_DIR_OPTION
def env(state_dir: Path) -> None:
    """Print `export` lines for the running stack."""
    from il_audit.cli.errors import BadSettingsError
    from il_audit.devtools import dev_stack

    state = dev_stack.DevState.load(state_dir)
    if state is None:
        # Exit 2 (configuration): `eval "$(il-audit dev env)"` in a script stops on it.
        raise BadSettingsError(f"no local stack recorded in {state_dir}; run `il-audit dev up`")
    click.echo("\n".join(dev_stack.env_lines(state)))


@dev.command()
@STATE_DIR_OPTION
@format_option("IL_AUDIT_DEV_FORMAT")
def status(state_dir: Path, fmt: str) -> None:
    """Show each component and whether it answers, and whether the events subscription still
    pushes to the function; exit 1 if any is down or it does not.

    ``--format json``: ``healthy``, ``components`` (``name``, ``pid``, ``url`` and ``state``:
    ``up``, ``not_answering`` or ``down``) and ``delivery`` (``subscription``, ``ok``,
    ``expected``, ``actual``; null without a function); no stack is ``healthy: false``.
    """
    from il_audit.cli.errors import pubsub_errors
    from il_audit.devtools import dev_stack

    state = dev_stack.DevState.load(state_dir)
    if state is None and fmt == "table":
        click.echo(f"no local stack recorded in {state_dir}")
        raise SystemExit(1)
    rows = []
    for component in state.components if state else []:
        running = dev_stack.is_running(component)
        answering = running and answers(component.url, timeout=2)
        condition = "up" if answering else ("not_answering" if running else "down")
        rows.append((component.name, component.pid, component.url, condition))
        label = condition.replace("not_answering", "running, not answering")
        if fmt == "table":
            click.echo(f"{component.name:<18} pid {component.pid:<8} {component.url:<28} {label}")
    healthy = bool(rows) and all(row[3] == "up" for row in rows)
    delivery = None
    if healthy and state is not None:
        with pubsub_errors(state.env.get("PUBSUB_EMULATOR_HOST", "the emulator"), 5.0):
            delivery = dev_stack.delivery(state)
        if delivery is not None:
            healthy &= delivery.ok
            if fmt == "table":
                click.echo(f"{'subscription':<18} {delivery.subscription:<37} {delivery.text()}")
    if fmt == "json":
        components = json.loads(render(["name", "pid", "url", "state"], rows, "json"))
        pushes = delivery and {
            "subscription": delivery.subscription,
            "ok": delivery.ok,
            "expected": delivery.expected,
            "actual": delivery.actual,
        }
        document = {"healthy": healthy, "components": components, "delivery": pushes}
        click.echo(json.dumps(document, indent=2))
    if not healthy:
        raise SystemExit(1)


@dev.command("restart-function")
@STATE_DIR_OPTION
@format_option("IL_AUDIT_DEV_FORMAT")
def restart_function(state_dir: Path, fmt: str) -> None:
    """Restart the local function with this shell's environment; the emulator stays.

    For a changed setting such as IL_AUDIT_EXTRA_EVENT_TYPES: the dead letters
    waiting in the emulator stay, ready for `il-audit dlq replay`. The previous
    function.log is kept as function.log.1. `--format json`: name, pid, url, log,
    previous_log.

    \b
    Example:
      IL_AUDIT_EXTRA_EVENT_TYPES='billing.*' il-audit dev restart-function
    """
    from il_audit.cli.errors import BadSettingsError, JobFailedError
    from il_audit.devtools import dev_stack
    from il_audit.devtools.errors import DevStackError, FunctionStartError

    try:
        component = dev_stack.restart_function(state_dir)
    except FunctionStartError as exc:
        raise JobFailedError(
            str(exc).splitlines()[0] + f" (log: {state_dir}/function.log)"
        ) from exc
    except DevStackError as exc:
        raise BadSettingsError(str(exc)) from exc
    previous = dev_stack.previous_log(Path(component.log))
    if fmt == "json":
        document = {**_components([component])[0], "previous_log": str(previous)}
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(
        f"{component.name:<18} pid {component.pid:<8} {component.url}  restarted with this "
        f"shell's environment  log: {component.log} (before the restart: {previous})"
    )


@dev.command()
@STATE_DIR_OPTION
@format_option("IL_AUDIT_DEV_FORMAT")
def down(state_dir: Path, fmt: str) -> None:
    """Stop what `dev up` started (only those processes, by pid).

    `--format json`: a list of name and was_running (empty without a stack).
    """
    from il_audit.devtools import dev_stack

    results = dev_stack.down(state_dir)
    if fmt == "json":
        click.echo(render(["name", "was_running"], results, "json"))
        return
    if not results:
        click.echo(f"nothing to stop: no local stack recorded in {state_dir}")
        return
    for name, was_running in results:
        click.echo(f"{name:<18} {'stopped' if was_running else 'was not running'}")


def _components(components: list[Component]) -> list[dict[str, Any]]:
    """The stack's processes as JSON objects: name, pid, url, log."""
    return [{"name": c.name, "pid": c.pid, "url": c.url, "log": c.log} for c in components]
