"""``python -m il_audit.devtools.pubsub_emulator`` (what ``.ci/run`` starts) stops at once.

A stand-in launcher (a Python HTTP server, named by ``IL_AUDIT_PUBSUB_EMULATOR``)
plays the emulator, so no JVM starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from il_audit.devtools import pubsub_emulator
from tests.support.processes import alive

pytestmark = pytest.mark.subprocess

LAUNCHER = """#!{python}
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import sys
port = int([arg for arg in sys.argv if arg.startswith("--port=")][0].split("=")[1])
ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler).serve_forever()
"""


def test_sigterm_stops_the_emulator_and_exits_at_once(tmp_path: Path) -> None:
    """SIGTERM: the emulator's process group is stopped and the launcher exits 0 within
    seconds, without a traceback (it used to wait out two 10 s timeouts)."""
    launcher = tmp_path / "cloud-pubsub-emulator"
    launcher.write_text(LAUNCHER.format(python=sys.executable))
    launcher.chmod(0o755)
    process = subprocess.Popen(
        [sys.executable, "-m", "il_audit.devtools.pubsub_emulator"],
        env={**os.environ, pubsub_emulator.LAUNCHER_VARIABLE: str(launcher)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: list[int] = []
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PUBSUB_EMULATOR_HOST=127.0.0.1:"), process.stderr
        port = line.strip().rsplit(":", 1)[1]
        children += [
            int(pid)
            for pid in os.listdir("/proc")
            if pid.isdigit() and f"--port={port}".encode() in _cmdline(int(pid))
        ]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        left = [pid for pid in children if alive(pid)]
        for pid in left:  # a failed run must not leave the stand-in serving
            os.kill(pid, signal.SIGKILL)
    assert len(children) == 1
    assert left == []
    assert process.returncode == 0
    assert "Traceback" not in stderr


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
