"""docs/getting-started.md's transcript, run as a newcomer would: every ``$`` command in order,
in one shell's environment (``eval "$(il-audit dev env)"`` carries over), against the real
local stack (``il-audit dev up`` starts the official emulator and the function)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT, run_cli
from tests.support.transcript import Step, missing, steps
from tests.support.waiting import poll

PAGE = ROOT / "docs" / "getting-started.md"
READS = ("il-audit query", "il-audit dlq inspect")
"""Commands that only read: run again until they show their lines, since push delivery
takes a moment (the page tells the reader to do the same)."""
DELIVERY_SECONDS = 20.0
UNSET = ("PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCP_PROJECT")


def newcomer_shell() -> dict[str, str]:
    """This environment without il-audit or Google settings, with il-audit and python on PATH."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("IL_") and name not in UNSET
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = str(ROOT)
    return env


def in_shell(
    command: str, env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """``command`` in bash, and the environment it leaves behind (what ``eval`` exported)."""
    dump = cwd / ".transcript-env"
    script = f'{command}\n__rc=$?\nenv -0 > "{dump}"\nexit $__rc\n'
    result = subprocess.run(
        ["bash", "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    after = dict(entry.split("=", 1) for entry in dump.read_text().split("\0") if "=" in entry)
    return result, after


def run_step(
    step: Step, env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run ``step``; a read that does not show its lines yet runs again, up to a deadline."""
    patience = DELIVERY_SECONDS if step.command.startswith(READS) else 0.0
    runs = []

    def shown() -> bool:
        runs.append(in_shell(step.command, env, cwd))
        result = runs[-1][0]
        return result.returncode == 0 and not missing(result.stdout + result.stderr, step.shown)

    poll(shown, patience, interval=0.5)
    return runs[-1]


@pytest.mark.usefixtures("pubsub_emulator_host")  # the emulator must be installed (or CI fails)
def test_the_getting_started_transcript_runs_and_prints_what_it_shows(tmp_path: Path) -> None:
    """Each command exits 0 and prints the lines the page shows, from `il-audit demo` through
    `dev up`, an app emitting, `query`, `dlq inspect` and `report` to `dev down`."""
    env = newcomer_shell()
    ran = []
    try:
        for step in steps(PAGE):
            result, after = run_step(step, env, tmp_path)
            output = result.stdout + result.stderr
            lacking = missing(output, step.shown)
            assert result.returncode == 0, f"$ {step.command}\n{output}"
            assert lacking == [], f"$ {step.command}\nnot printed: {lacking}\n{output}"
            env = after
            ran.append(step.command.split("\n", 1)[0])
    finally:
        run_cli("dev", "down", cwd=tmp_path, env=newcomer_shell(), inherit=False)
    assert ran[-1] == "il-audit dev down"
    assert (tmp_path / "report.html").is_file()
