"""Start and stop the local BigQuery stand-in (bqemulator): for tests and ``il-audit dev``.

bqemulator lives in its own virtualenv (its pins clash with the project's): the python named
by ``IL_AUDIT_BQEMULATOR_PYTHON``, else ``.venv-bqemulator/`` in the current directory or in
the checkout this package runs from (``make setup-test`` creates it, with ``bqemulator==1.4.0``,
``numpy`` and DuckDB 1.x). :func:`start` runs ``bqemulator_launcher.py`` with that python on
a free (or given) 127.0.0.1 port (REST) and another free one (gRPC: the Storage Write API),
in its own process group, and waits until it answers HTTP;
:meth:`BigQueryStandIn.stop` ends the group.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from il_audit.devtools.errors import StandInNotFoundError, StandInStartError
from il_audit.devtools.ports import free_port, wait_for_http
from il_audit.devtools.processes import ChildProcess, spawn

PYTHON_VARIABLE: Final = "IL_AUDIT_BQEMULATOR_PYTHON"
VENV_NAME: Final = ".venv-bqemulator"
CHECKOUT_ROOT: Final = Path(__file__).resolve().parents[2]
LAUNCHER: Final = Path(__file__).with_name("bqemulator_launcher.py")
DEFAULT_PROJECT: Final = "il-audit-test"
INSTALL_HINT: Final = (
    "the BigQuery stand-in (bqemulator) is not installed: run `make setup-test`, which creates "
    f"{VENV_NAME}/ with bqemulator==1.4.0 and numpy, or point {PYTHON_VARIABLE} at "
    "a python that has them"
)
# Keep in step with IMPORT_ERROR_EXIT_CODE in bqemulator_launcher.py (a different interpreter).
_LAUNCHER_IMPORT_ERROR: Final = 3


def find_python() -> Path:
    """The python that runs the launcher; raises :class:`StandInNotFoundError` with advice."""
    override = os.environ.get(PYTHON_VARIABLE, "").strip()
    if override:
        path = Path(override).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise StandInNotFoundError(
            f"{PYTHON_VARIABLE}={override} is not an executable file: unset it to use "
            f"{VENV_NAME}/ (`make setup-test` creates it)"
        )
    for root in (Path.cwd(), CHECKOUT_ROOT):
        path = root / VENV_NAME / "bin" / "python"
        if path.is_file():
            return path
    raise StandInNotFoundError(INSTALL_HINT)


@dataclass
class BigQueryStandIn(ChildProcess):
    """A running stand-in; :func:`start` gives one, :meth:`stop` ends it."""

    project: str = DEFAULT_PROJECT
    grpc_port: int = 0
    """The Storage API's gRPC port (``AppendRows``)."""
    startup_seconds: float = 0.0
    """From spawning the launcher to the first HTTP answer."""

    @property
    def url(self) -> str:
        """The REST endpoint, for ``client_options={"api_endpoint": url}``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def grpc_address(self) -> str:
        """``host:port`` of the Storage API, for ``IL_BQ_STORAGE_API_ENDPOINT`` (plaintext)."""
        return f"127.0.0.1:{self.grpc_port}"


def start(
    project: str = DEFAULT_PROJECT,
    *,
    port: int | None = None,
    timeout: float = 60.0,
    exit_with_parent: bool = True,
    log_path: Path | None = None,
) -> BigQueryStandIn:
    """Start the stand-in on 127.0.0.1 and wait until it answers HTTP.

    ``exit_with_parent`` (tests) stops it when this process dies; ``il-audit dev up``
    turns it off so the stand-in outlives the command.
    """
    python = find_python()
    port = port or free_port()
    grpc_port = free_port()
    log_path = log_path or Path(tempfile.gettempdir()) / f"il-audit-bqemulator-{port}.log"
    started = time.monotonic()
    process, log = spawn(
        [
            str(python),
            str(LAUNCHER),
            f"--port={port}",
            f"--grpc-port={grpc_port}",
            f"--project={project}",
            *(["--exit-with-parent"] if exit_with_parent else []),
        ],
        log_path,
    )
    standin = BigQueryStandIn(port, process, log_path, log, project=project, grpc_port=grpc_port)
    # Any answer will do: uvicorn only listens once the app is wired up.
    answered = wait_for_http(f"{standin.url}/", timeout, alive=standin.alive)
    standin.startup_seconds = time.monotonic() - started
    if answered:
        return standin
    exit_code = process.poll()
    tail = standin.log_tail()
    standin.stop()
    if exit_code == _LAUNCHER_IMPORT_ERROR:
        raise StandInNotFoundError(f"{INSTALL_HINT}\n{tail}")
    raise StandInStartError(
        f"the BigQuery stand-in did not answer on port {port} within {timeout:.0f} s "
        f"(exit code {exit_code}); log {log_path}:\n{tail}"
    )
