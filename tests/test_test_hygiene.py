"""The tests wait the one way: with a deadline and a message (``tests/support/waiting.py``).

A ``while True:`` needs a deadline inside it, and ``time.sleep`` (or
``asyncio.sleep``) appears only where the sleep is the behaviour under test:
the allow-list below names each place and why. A regression in a loop that
waits without a deadline hangs until pytest's timeout; a sleep that waits for
something to happen is slow when it is long and flaky when it is short.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent

SLEEPS_ALLOWED = {
    # (file under tests/, the function the sleep is in): why the sleep is the point
    ("support/waiting.py", "rounds"): "the polling interval of every wait",
    ("unit/publisher/test_context.py", "task"): "two asyncio tasks interleave at the await",
    ("unit/publisher/test_outbox_spool.py", "emit_steadily"): "pacing a producer",
    ("unit/publisher/test_outbox_spool.py", "test_a_full_spool_drops_and_counts_exactly"):
        "pacing a producer",
    ("unit/subscriber_fn/test_duckdb_sink.py", "_hold_write_lock"): "a process holds the file",
    ("unit/subscriber_fn/test_embedded.py", "_hold"): "a process holds the file",
    ("unit/subscriber_fn/test_health.py", "test_a_trickling_client_is_cut_off_at_the_deadline"):
        "a client trickling its request byte by byte",
    ("integration/scripts/emit_local.py", "main"): "pacing bursts for a concurrent reader",
    ("integration/scripts/emit_steady.py", "main"): "pacing a producer",
    ("integration/test_dlq.py",
     "test_killing_replay_at_random_points_loses_and_duplicates_nothing"):
        "a SIGKILL at a random moment",
    ("integration/test_spool_outages.py",
     "test_a_20_second_cut_at_1000_events_per_second_loses_nothing"):
        "pacing a producer through a timed network cut",
    ("integration/test_spool_outages.py", "test_filling_the_spool_drops_and_counts_exactly"):
        "pacing a producer",
}  # fmt: skip


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(TESTS.rglob("*.py")):
        yield path.relative_to(TESTS).as_posix(), ast.parse(path.read_text("utf-8"))


def _functions(tree: ast.AST, enclosing: str = "<module>") -> Iterator[tuple[str, ast.AST]]:
    """Each node with the name of the innermost function around it."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield child.name, child
            yield from _functions(child, child.name)
        else:
            yield enclosing, child
            yield from _functions(child, enclosing)


def _is_sleep(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr == "sleep" and isinstance(func.value, ast.Name)
    return isinstance(func, ast.Name) and func.id == "sleep"


def _has_deadline(loop: ast.While) -> bool:
    """Whether the loop's body reads a deadline or the clock."""
    for node in ast.walk(loop):
        name = (
            node.id
            if isinstance(node, ast.Name)
            else node.attr
            if isinstance(node, ast.Attribute)
            else ""
        )
        if "deadline" in name.lower() or name in {"monotonic", "perf_counter"}:
            return True
    return False


def sleeps() -> dict[tuple[str, str], int]:
    """(file, function) -> how many sleep calls it makes."""
    found: dict[tuple[str, str], int] = {}
    for name, tree in _sources():
        for function, node in _functions(tree):
            if _is_sleep(node):
                found[(name, function)] = found.get((name, function), 0) + 1
    return found


def test_no_sleep_outside_the_allow_list() -> None:
    """A sleep that waits for something is a wait_until; only sleeps that are the test stay."""
    unexpected = sorted(place for place in sleeps() if place not in SLEEPS_ALLOWED)
    assert unexpected == [], "use tests.support.waiting (wait_until, poll, rounds) instead"


def test_the_sleep_allow_list_has_no_stale_entries() -> None:
    """Every allowed place still sleeps, so the list shrinks when a sleep goes."""
    assert sorted(set(SLEEPS_ALLOWED) - set(sleeps())) == []


def test_no_while_true_without_a_deadline() -> None:
    """``while True:`` reads a deadline or the clock in its body, or it may spin forever."""
    unbounded = [
        f"{name}:{node.lineno}"
        for name, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.While)
        and isinstance(node.test, ast.Constant)
        and node.test.value is True
        and not _has_deadline(node)
    ]
    assert unbounded == []


def test_the_checks_see_what_they_forbid() -> None:
    """The detectors find a bare sleep and an unbounded loop in a sample."""
    sample = ast.parse(
        "def f():\n    while True:\n        time.sleep(1)\n"
        "def g(deadline):\n    while True:\n        if now() > deadline: break\n"
    )
    loops = [node for node in ast.walk(sample) if isinstance(node, ast.While)]
    assert [_has_deadline(loop) for loop in loops] == [False, True]
    assert [function for function, node in _functions(sample) if _is_sleep(node)] == ["f"]
