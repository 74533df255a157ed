"""The report's sections: the rows of their queries (``_queries``) turned into figures,
charts and tables.

Aggregation that would need engine-specific SQL (top-N with ties and NULLs,
lists of distinct apps) is done here in Python on small grouped results, so
both engines give the same page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from il_audit.report._activity import auth_section, events_section, users_section
from il_audit.report._completeness import completeness_section
from il_audit.report._feedback import chat_feedback_section
from il_audit.report._health import chat_latency_section, dead_letters_section, pipeline_section
from il_audit.report._model import (
    Period,
    Section,
)
from il_audit.report._spend import cost_section
from il_audit.report._warehouse import Warehouse
from il_audit.report.errors import QueryFailedError

Builder = Callable[[Warehouse, Period, Section], Section]
"""Fills one section from the warehouse for the period."""

SECTIONS: Final[tuple[tuple[Section, Builder], ...]] = (
    (
        Section(
            "events",
            "Events per day",
            "How many events each app recorded per day (UTC), each event counted once.",
        ),
        events_section,
    ),
    (
        Section(
            "users",
            "Active users",
            "How many distinct people (actor_uid) were active per day, in each app and in all.",
        ),
        users_section,
    ),
    (
        Section(
            "cost",
            "Cost",
            "What usage cost per day, by app and by model, as priced when it was ingested, "
            "and how much of it no rate could price.",
        ),
        cost_section,
    ),
    (
        Section(
            "auth",
            "Auth failures",
            "How many logins failed per day, in which app, and who failed most.",
        ),
        auth_section,
    ),
    (
        Section(
            "dead_letters",
            "Top dead-letter reasons",
            "What the pipeline refused, by reason (error class), and from which apps.",
        ),
        dead_letters_section,
    ),
    (
        Section(
            "chat_latency",
            "Chat latency",
            "How long chat turns took end to end (chat_turns.latency_ms_total).",
        ),
        chat_latency_section,
    ),
    (
        Section(
            "chat_feedback",
            "Chat feedback",
            "How many chat turns got a verdict (chat_feedback_scores), and how many verdicts "
            "were negative, per day (UTC).",
        ),
        chat_feedback_section,
    ),
    (
        Section(
            "pipeline",
            "Pipeline delay",
            "How long events took from occurred_at to ingested_at (publisher queue, Pub/Sub, "
            "subscriber), per hour of processing (UTC).",
        ),
        pipeline_section,
    ),
    (
        Section(
            "completeness",
            "Pipeline completeness",
            "Did every event the publishers numbered arrive? Per publisher instance that "
            "emitted in the period: numbers expected, stored, dead-lettered, reported dropped "
            "or failed by its heartbeats, and the gap nothing explains (pipeline_completeness).",
        ),
        completeness_section,
    ),
)
"""Each section's title and question, and the function that fills it, in page order."""


def collect(warehouse: Warehouse, period: Period) -> list[Section]:
    """Every section; one whose query fails carries the error instead of its numbers.

    :class:`~il_audit.report._warehouse.WarehouseUnavailableError` is not caught: when the
    warehouse cannot be read at all there is no report.
    """
    sections = []
    for base, build in SECTIONS:
        try:
            sections.append(build(warehouse, period, base))
        except QueryFailedError as exc:
            sections.append(replace(base, error=str(exc)))
    return sections
