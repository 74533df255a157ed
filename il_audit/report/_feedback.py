"""The chat feedback section: per day, the share of turns rated and of negative verdicts.

Shown right after chat latency: a slow day and a day of thumbs-down are read
together. The feedback rate is per day of the turn (a verdict given the next
day still counts for its turn); the negative share is per day of the verdict,
over the verdicts that have a polarity (an unknown label has none).
"""

from __future__ import annotations

from typing import Any

from il_audit.report._model import Chart, Column, Figure, Period, Section, Series, Table, Unit
from il_audit.report._queries import CHAT_FEEDBACK_RATE, CHAT_FEEDBACK_VERDICTS
from il_audit.report._section_common import period_params
from il_audit.report._values import as_day, as_int, day_range, empty, replace_section, share
from il_audit.report._warehouse import Warehouse


def _by_day(rows: list[dict[str, Any]], *names: str) -> dict[str, tuple[int, ...]]:
    return {as_day(r["day"]).isoformat(): tuple(as_int(r[n]) for n in names) for r in rows}


def chat_feedback_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Feedback rate (rated turns / turns) and negative share (negative / with polarity)."""
    params = period_params(period)
    rate = _by_day(warehouse.query(CHAT_FEEDBACK_RATE, params), "turns", "rated_turns")
    verdicts = _by_day(
        warehouse.query(CHAT_FEEDBACK_VERDICTS, params), "verdicts", "with_polarity", "negative"
    )
    if not rate and not verdicts:
        return empty(base, "No chat turns and no feedback in this period.")
    days = day_range(as_day(day) for day in (*rate, *verdicts))
    turns = {d: rate.get(d, (0, 0))[0] for d in days}
    rated = {d: rate.get(d, (0, 0))[1] for d in days}
    counted = {d: verdicts.get(d, (0, 0, 0)) for d in days}
    all_turns, all_rated = sum(turns.values()), sum(rated.values())
    polar = sum(c[1] for c in counted.values())
    negative = sum(c[2] for c in counted.values())
    feedback_rate = tuple(share(rated[d], turns[d]) for d in days)
    negative_share = tuple(share(counted[d][2], counted[d][1]) for d in days)
    return replace_section(
        base,
        figures=(
            Figure("Verdicts", sum(c[0] for c in counted.values()), key="feedback_verdicts"),
            Figure("Feedback rate", share(all_rated, all_turns), Unit.SHARE, "feedback_rate"),
            Figure("Negative share", share(negative, polar), Unit.SHARE, "feedback_negative"),
        ),
        charts=(
            Chart(
                "chat_feedback",
                "Feedback rate and negative share, per day",
                "lines",
                Unit.SHARE,
                "day",
                days,
                (
                    Series("feedback rate", feedback_rate),
                    Series("negative share", negative_share),
                ),
                "No feedback in this period.",
            ),
        ),
        tables=(
            Table(
                "chat_feedback_days",
                "Feedback per day",
                (
                    Column("day"),
                    Column("turns", Unit.COUNT),
                    Column("rated turns", Unit.COUNT),
                    Column("feedback rate", Unit.SHARE),
                    Column("verdicts", Unit.COUNT),
                    Column("negative", Unit.COUNT),
                    Column("negative share", Unit.SHARE),
                ),
                tuple(
                    (d, turns[d], rated[d], feedback_rate[i], *counted[d][::2], negative_share[i])
                    for i, d in enumerate(days)
                ),
            ),
        ),
    )
