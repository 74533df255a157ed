"""Claims of docs/ that were once wrong in the README, each checked against the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from il_audit.schemas.envelope import Envelope
from il_audit.sql import LEGACY_VIEW_NAMES, views
from il_audit.subscriber_fn.core import ErrorClass
from tests.support.factories import make_envelope

DOCS = Path(__file__).resolve().parents[2] / "docs"
TABLES = ("events", "dead_letters")


def _section(page: str, heading: str) -> str:
    text = (DOCS / page).read_text("utf-8")
    return text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


def test_the_error_classes_table_lists_every_class_the_subscriber_uses() -> None:
    """docs/operations.md's table has exactly the ErrorClass values (internal_error included)."""
    table = _section("operations.md", "### Error classes")
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, re.M)
    assert sorted(listed) == sorted(error_class.value for error_class in ErrorClass)
    assert "`delivery_exhausted`" in table  # the dlq tools' name for Pub/Sub's own


def _reads() -> dict[str, set[str]]:
    """View -> the views and tables its SQL names (comments left out), transitively."""
    names = {view.name for view in views()} | set(TABLES)
    direct = {}
    for view in views():
        sql = re.sub(r"--[^\n]*", "", view.sql)
        direct[view.name] = {name for name in names - {view.name} if re.search(rf"\b{name}\b", sql)}
    closure = {}
    for name, named in direct.items():
        seen, todo = set(), list(named)
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(direct.get(current, ()))
        closure[name] = seen
    return closure


def test_views_of_events_read_events_deduped_and_dead_letter_views_read_dead_letters() -> None:
    """As docs/analytics.md says: every view of events reaches events_deduped;
    dead_letters_by_reason reads only dead_letters; pipeline_health reads both."""
    reads = _reads()
    assert "events_deduped" not in reads["dead_letters_by_reason"]
    assert reads["dead_letters_by_reason"] == {"dead_letters"}
    assert {"events_deduped", "dead_letters"} <= reads["pipeline_health"]
    others = set(reads) - {"events_deduped", "dead_letters_by_reason", *LEGACY_VIEW_NAMES}
    assert {name for name in others if "events_deduped" not in reads[name]} == set()
    assert all(not reads[name] for name in LEGACY_VIEW_NAMES)
    text = (DOCS / "analytics.md").read_text("utf-8")
    assert "`dead_letters_by_reason`\nonly that, `pipeline_health` both" in text


@pytest.mark.parametrize("source", ["api", "beacon", "job", "scheduled_task", "pipeline", "etl2"])
def test_source_is_any_lowercase_token(source: str) -> None:
    """docs/wire-contract.md: `source` is any lowercase token, not a list of four values."""
    assert Envelope.model_validate_json(json.dumps(make_envelope(source=source))).source == source
    assert "`source` is any\nlowercase token" in (DOCS / "wire-contract.md").read_text("utf-8")


@pytest.mark.parametrize("source", ["Api", "9lives", "with space", "x" * 65])
def test_source_refuses_what_is_not_a_lowercase_token(source: str) -> None:
    """A capital, a leading digit, a space or 65 characters is invalid."""
    with pytest.raises(ValidationError):
        Envelope.model_validate_json(json.dumps(make_envelope(source=source)))
