"""Running ``il-audit`` in a fresh process, the way an operator does: the one helper for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IL_AUDIT = (sys.executable, "-m", "il_audit.cli")


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
    cwd: Path | None = None,
    inherit: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``il-audit ARGS`` in a new process; ``env`` is added to ours (replaces it if not inherit)."""
    base = dict(os.environ) if inherit else {}
    return subprocess.run(
        [*IL_AUDIT, *args],
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
