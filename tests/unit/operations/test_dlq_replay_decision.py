"""Replay's one decision, as a table: every way a pulled dead letter can go, and which rule wins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from il_audit.operations.dlq import (
    DeadLetter,
    ReplayAction,
    ReplayDecision,
    ReplayReport,
    ReplayRules,
    Selector,
    decide_replay,
)

STARTED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
BEFORE = STARTED - timedelta(minutes=5)
AFTER = STARTED + timedelta(seconds=1)
POISON = ("line 0: unknown_event_type: event_type 'billing.x' is not in the taxonomy",)
CHAT_ONLY = Selector.parse(["app=chat"])
INGEST_ONLY = Selector.parse(["app=ingest"])


def dead_letter(
    *, published: datetime | None = BEFORE, replay_count: str | None = None, cut: bool = False
) -> DeadLetter:
    """An ``ingest`` reject of class ``unknown_event_type``, dead-lettered at ``published``;
    ``cut``: its data was cut to fit the dead-letter topic."""
    attributes = {
        "app": "ingest",
        "il_audit_error_class": "unknown_event_type",
        "il_audit_count": "1",
    }
    if replay_count is not None:
        attributes["il_audit_replay_count"] = replay_count
    if cut:
        attributes |= {
            "il_audit_data_cut": "true",
            "il_audit_original_bytes": "12582920",
            "il_audit_original_sha256": "0" * 64,
        }
    return DeadLetter("ack-1", "m-1", b'{"event_id":"e-1"}', attributes, published)


@dataclass(frozen=True)
class Case:
    """One row: the inputs of a decision and what it must be."""

    message: DeadLetter
    expected: ReplayAction
    selector: Selector | None = None
    cap: int = 3
    force: bool = False
    seen: bool = False
    problems: tuple[str, ...] | None = None
    """What revalidation finds; None: the run does not revalidate."""
    revalidated: bool = False
    """Whether revalidation must have run (it is the costly check, so it runs last)."""


CASES: dict[str, Case] = {
    # plain replay
    "fresh message": Case(dead_letter(), ReplayAction.REPLAY),
    "dead-lettered exactly at the start": Case(dead_letter(published=STARTED), ReplayAction.REPLAY),
    "no publish time": Case(dead_letter(published=None), ReplayAction.REPLAY),
    "selected": Case(dead_letter(), ReplayAction.REPLAY, selector=INGEST_ONLY),
    "one below the cap": Case(dead_letter(replay_count="2"), ReplayAction.REPLAY),
    "unreadable replay count counts as 0": Case(dead_letter(replay_count="x"), ReplayAction.REPLAY),
    "at the cap, forced": Case(dead_letter(replay_count="3"), ReplayAction.REPLAY, force=True),
    "revalidated clean": Case(dead_letter(), ReplayAction.REPLAY, problems=(), revalidated=True),
    # redelivered within the run
    "pulled again in this run": Case(dead_letter(), ReplayAction.SKIP_REDELIVERED, seen=True),
    "pulled again beats every other rule": Case(
        dead_letter(published=AFTER, replay_count="9"),
        ReplayAction.SKIP_REDELIVERED,
        selector=CHAT_ONLY,
        seen=True,
        problems=POISON,
    ),
    # newer than the run
    "dead-lettered after the start": Case(
        dead_letter(published=AFTER), ReplayAction.SKIP_NEWER_THAN_RUN
    ),
    "newer beats not selected": Case(
        dead_letter(published=AFTER), ReplayAction.SKIP_NEWER_THAN_RUN, selector=CHAT_ONLY
    ),
    "newer beats the cap, even forced": Case(
        dead_letter(published=AFTER, replay_count="3"),
        ReplayAction.SKIP_NEWER_THAN_RUN,
        force=True,
    ),
    # not selected
    "selector does not match": Case(
        dead_letter(), ReplayAction.SKIP_NOT_SELECTED, selector=CHAT_ONLY
    ),
    "no publish time with a time window": Case(
        dead_letter(published=None),
        ReplayAction.SKIP_NOT_SELECTED,
        selector=Selector.parse(since=BEFORE),
    ),
    "not selected beats the cap": Case(
        dead_letter(replay_count="3"), ReplayAction.SKIP_NOT_SELECTED, selector=CHAT_ONLY
    ),
    "not selected is never revalidated": Case(
        dead_letter(), ReplayAction.SKIP_NOT_SELECTED, selector=CHAT_ONLY, problems=POISON
    ),
    # cut to fit the dead-letter topic: a fragment, never replayed
    "cut": Case(dead_letter(cut=True), ReplayAction.REFUSE_CUT),
    "cut, forced": Case(dead_letter(cut=True), ReplayAction.REFUSE_CUT, force=True),
    "cut beats the cap": Case(dead_letter(cut=True, replay_count="3"), ReplayAction.REFUSE_CUT),
    "cut is never revalidated": Case(dead_letter(cut=True), ReplayAction.REFUSE_CUT, problems=()),
    "not selected beats cut": Case(
        dead_letter(cut=True), ReplayAction.SKIP_NOT_SELECTED, selector=CHAT_ONLY
    ),
    "a replay count in other digits counts as 0": Case(
        dead_letter(replay_count="³"), ReplayAction.REPLAY
    ),
    # the replay cap
    "at the cap": Case(dead_letter(replay_count="3"), ReplayAction.REFUSE_CAPPED),
    "past the cap": Case(dead_letter(replay_count="7"), ReplayAction.REFUSE_CAPPED),
    "a lower cap": Case(dead_letter(replay_count="1"), ReplayAction.REFUSE_CAPPED, cap=1),
    "capped is never revalidated": Case(
        dead_letter(replay_count="3"), ReplayAction.REFUSE_CAPPED, problems=POISON
    ),
    # still poison
    "revalidation finds problems": Case(
        dead_letter(), ReplayAction.LEAVE_STILL_POISON, problems=POISON, revalidated=True
    ),
    "forced past the cap, still poison": Case(
        dead_letter(replay_count="3"),
        ReplayAction.LEAVE_STILL_POISON,
        force=True,
        problems=POISON,
        revalidated=True,
    ),
}


@dataclass
class Revalidation:
    """Stands for the revalidator: answers ``problems`` and records that it was asked."""

    problems: tuple[str, ...]
    asked: list[str] = field(default_factory=list)

    def __call__(self, message: DeadLetter) -> list[str]:
        self.asked.append(message.message_id)
        return list(self.problems)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_replay_decision(case: Case) -> None:
    """The decision for each row of the table, and whether it needed revalidation."""
    revalidation = Revalidation(case.problems) if case.problems is not None else None
    rules = ReplayRules(STARTED, case.selector, case.cap, case.force)
    decision = decide_replay(case.message, rules, seen=case.seen, revalidate=revalidation)
    poisoned = case.expected is ReplayAction.LEAVE_STILL_POISON
    assert decision == ReplayDecision(case.expected, (case.problems or ()) if poisoned else ())
    assert bool(revalidation and revalidation.asked) == case.revalidated


def test_the_table_covers_every_action() -> None:
    """No action of replay goes without a row."""
    assert {case.expected for case in CASES.values()} == set(ReplayAction)


COUNTED_AS = {
    ReplayAction.REPLAY: {"selected": 1},
    ReplayAction.SKIP_REDELIVERED: {},
    ReplayAction.SKIP_NEWER_THAN_RUN: {"skipped_new": 1},
    ReplayAction.SKIP_NOT_SELECTED: {"skipped_filter": 1},
    ReplayAction.REFUSE_CUT: {"selected": 1, "skipped_cut": 1},
    ReplayAction.REFUSE_CAPPED: {"selected": 1, "skipped_cap": 1},
    ReplayAction.LEAVE_STILL_POISON: {"selected": 1, "still_failing": 1},
}
COUNTERS = (
    "selected",
    "replayed",
    "skipped_filter",
    "skipped_cap",
    "skipped_new",
    "skipped_cut",
    "still_failing",
)


@pytest.mark.parametrize(("action", "counted"), COUNTED_AS.items(), ids=list(map(str, COUNTED_AS)))
def test_each_decision_is_counted_where_the_report_says(
    action: ReplayAction, counted: dict[str, int]
) -> None:
    """A decision moves exactly its counters; a replay counts only once it is confirmed."""
    report = ReplayReport()
    report.record(dead_letter(), ReplayDecision(action, POISON))
    assert {name: getattr(report, name) for name in COUNTERS if getattr(report, name)} == counted
    assert report.capped == (["m-1"] if action is ReplayAction.REFUSE_CAPPED else [])
    assert report.cut == (["m-1"] if action is ReplayAction.REFUSE_CUT else [])
    poisoned = action is ReplayAction.LEAVE_STILL_POISON
    assert report.failing == ([{"message_id": "m-1", "problems": list(POISON)}] if poisoned else [])
