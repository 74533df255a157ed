"""docs/getting-started.md walks the newcomer path in order; the transcript reader is sound.

The commands themselves run in tests/integration/test_getting_started.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.transcript import missing, shows, steps

PAGE = Path(__file__).resolve().parents[2] / "docs" / "getting-started.md"
PATH = [
    "il-audit demo",
    "il-audit dev up",
    'eval "$(il-audit dev env)"',
    "python - <<'EOF'",
    "il-audit query",
    "il-audit dlq inspect",
    "il-audit report",
    "il-audit dev down",
]


def test_the_transcript_is_the_newcomer_path_in_order() -> None:
    """demo, dev up, the dev env, an app emitting, query, dlq inspect, report, dev down."""
    commands = [step.command for step in steps(PAGE)]
    assert len(commands) == len(PATH)
    assert all(command.startswith(start) for command, start in zip(commands, PATH, strict=True))
    shown = [step.shown for step in steps(PAGE) if not step.command.startswith("eval")]
    assert all(shown), "every command but eval shows what it prints"


def test_a_heredoc_is_one_command_and_ellipses_match_anything(tmp_path: Path) -> None:
    """The heredoc's lines belong to its command; output after EOF is what it prints."""
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ python - <<'EOF'\nprint('a  b')\nEOF\na b\n$ echo x\n```\n"
        "```bash\n$ not a command\n```\n"
    )
    [first, second] = steps(page)
    assert first.command == "python - <<'EOF'\nprint('a  b')\nEOF"
    assert (first.shown, second.shown) == (("a b",), ())
    assert shows("pid 4711   http://127.0.0.1:9/ log", "pid … http://127.0.0.1:…/ log")
    assert not shows("pid 4711", "pid … http")
    assert missing("one\ntwo", ("one", "three")) == ["three"]
