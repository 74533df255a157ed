"""Find, start and stop the official Pub/Sub emulator (the Java one from the Cloud SDK).

The launcher is looked up in this order: ``IL_AUDIT_PUBSUB_EMULATOR`` (path to
``cloud-pubsub-emulator``), the usual Cloud SDK install paths, then the SDK root
that ``gcloud info`` reports. The emulator always listens on 127.0.0.1.

``python -m il_audit.devtools.pubsub_emulator`` runs one in the foreground and
prints ``PUBSUB_EMULATOR_HOST=...`` once it answers (``.ci/run`` uses that).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from il_audit.devtools.errors import EmulatorNotFoundError, EmulatorStartError
from il_audit.devtools.ports import free_port, wait_for_http
from il_audit.devtools.processes import ChildProcess, spawn

LAUNCHER_VARIABLE: Final = "IL_AUDIT_PUBSUB_EMULATOR"
_RELATIVE_LAUNCHER: Final = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
_SDK_ROOTS: Final = (
    "/usr/lib/google-cloud-sdk",
    "/usr/share/google-cloud-sdk",
    "/opt/google-cloud-sdk",
    "~/google-cloud-sdk",
)
INSTALL_HINT: Final = (
    "the official Pub/Sub emulator is not installed: install the Google Cloud SDK and run "
    "'gcloud components install pubsub-emulator' (or the Debian package "
    "google-cloud-cli-pubsub-emulator), or point IL_AUDIT_PUBSUB_EMULATOR at "
    "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
)


def find_launcher() -> Path:
    """Path of ``cloud-pubsub-emulator``; raises :class:`EmulatorNotFoundError` with advice."""
    override = os.environ.get(LAUNCHER_VARIABLE, "").strip()
    if override:
        path = Path(override).expanduser()
        if path.is_file():
            return path
        raise EmulatorNotFoundError(f"{LAUNCHER_VARIABLE}={override} is not a file")
    for root in _SDK_ROOTS:
        candidate = Path(root).expanduser() / _RELATIVE_LAUNCHER
        if candidate.is_file():
            return candidate
    gcloud = shutil.which("gcloud")
    if gcloud:
        try:
            root = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = ""
        if root and (Path(root) / _RELATIVE_LAUNCHER).is_file():
            return Path(root) / _RELATIVE_LAUNCHER
    raise EmulatorNotFoundError(INSTALL_HINT)


@dataclass
class PubSubEmulator(ChildProcess):
    """A running emulator process; use :func:`start` to get one and :meth:`stop` to end it."""

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the value for ``PUBSUB_EMULATOR_HOST``."""
        return f"127.0.0.1:{self.port}"


def start(
    port: int | None = None, *, timeout: float = 60.0, log_path: Path | None = None
) -> PubSubEmulator:
    """Start the emulator on 127.0.0.1 (a free port unless given) and wait until it answers."""
    launcher = find_launcher()
    port = port or free_port()
    log_path = log_path or Path(tempfile.gettempdir()) / f"il-audit-pubsub-emulator-{port}.log"
    process, log = spawn([str(launcher), "--host=127.0.0.1", f"--port={port}"], log_path)
    emulator = PubSubEmulator(port, process, log_path, log)
    if not wait_for_http(f"http://127.0.0.1:{port}/", timeout, alive=emulator.alive):
        emulator.stop()
        tail = emulator.log_tail(2000)
        raise EmulatorStartError(f"the Pub/Sub emulator did not answer on {port}:\n{tail}")
    return emulator


def main() -> None:
    """Run an emulator in the foreground until SIGTERM/SIGINT."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else None
    try:
        emulator = start(port)
    except (EmulatorNotFoundError, EmulatorStartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)

    def _stop(_signum: int, _frame: object) -> None:
        # Only leave the wait below: stopping from here would wait for the process while
        # the interrupted wait holds its lock (20 s of timeouts, then a traceback).
        sys.exit(0)

    # Before the host line: whoever reads it may signal at once.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        # Inside the try: a signal that lands right after the line is printed (the reader
        # signals at once) must still reach the finally, or the emulator outlives us.
        print(f"PUBSUB_EMULATOR_HOST={emulator.host}", flush=True)
        emulator.process.wait()
    finally:
        # A second signal must not interrupt the stop itself.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        emulator.stop()


if __name__ == "__main__":
    main()
