"""A console transcript in markdown: its ``$`` commands and the output lines shown after each.

In a ```console block, a line starting with ``$ `` is a command; a command ending in a
heredoc (``<<'EOF'``) runs on to its ``EOF`` line. Every other non-blank line is output
the command must print; ``…`` in it stands for text that differs from run to run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

ELLIPSIS = "…"
_HEREDOC = re.compile(r"<<\s*'?(\w+)'?\s*$")


class Step(NamedTuple):
    """One command of the transcript and the lines it is shown printing."""

    command: str
    shown: tuple[str, ...]


def steps(page: Path) -> list[Step]:
    """The commands of ``page``'s console blocks, in order."""
    found: list[Step] = []
    command: list[str] = []
    shown: list[str] = []
    in_block, heredoc = False, None

    def close() -> None:
        if command:
            found.append(Step("\n".join(command), tuple(shown)))
        command.clear()
        shown.clear()

    for line in page.read_text("utf-8").splitlines():
        if not in_block:
            in_block = line.strip() == "```console"
            continue
        if heredoc is not None:
            command.append(line)
            heredoc = None if line.strip() == heredoc else heredoc
        elif line.strip() == "```":
            close()
            in_block = False
        elif line.startswith("$ "):
            close()
            command.append(line[2:])
            match = _HEREDOC.search(line)
            heredoc = match.group(1) if match else None
        elif line.strip():
            shown.append(line)
    return found


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def shows(output: str, line: str) -> bool:
    """True when one line of ``output`` has ``line``'s parts, in order, around each ``…``."""
    parts = [_squeeze(part) for part in line.split(ELLIPSIS)]
    for candidate in map(_squeeze, output.splitlines()):
        at = 0
        for part in parts:
            found = candidate.find(part, at)
            if found < 0:
                break
            at = found + len(part)
        else:
            return True
    return False


def missing(output: str, shown: tuple[str, ...]) -> list[str]:
    """The shown lines that ``output`` lacks."""
    return [line for line in shown if not shows(output, line)]
