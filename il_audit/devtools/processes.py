"""Child processes of the local stack (emulator, function, stand-in): spawn, watch, stop.

Each runs in its own session so that stopping it ends the whole process group
(launchers start JVMs and uvicorn workers), with its output in a log file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class ChildProcess:
    """A running child on 127.0.0.1:``port``, its log, and how to stop it."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def log_text(self) -> str:
        """Everything the process has written so far."""
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the log, for error messages."""
        return self.log_text()[-chars:]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout``; close the log."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


def spawn(
    argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """Start ``argv`` in a new session with stdout and stderr going to ``log_path``."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(env) if env is not None else None,
    )
    return process, log
