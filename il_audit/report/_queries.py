"""The report's queries: BigQuery SQL over the analytics views, one constant per question.

Each takes the period as ``@since`` and ``@until`` (DATE parameters, both days
included) and runs unchanged on BigQuery and, through
:func:`il_audit.sql.for_duckdb`, on DuckDB. Each query reads one view but the active
users across apps, which read ``events_deduped``.
"""

from __future__ import annotations

import itertools
from typing import Final

LATENCY_EDGES_MS: Final = (250, 500, 1000, 2000, 4000, 8000, 16000, 32000)
"""Upper bounds of the chat latency histogram's buckets; the last bucket is open."""

EVENTS_PER_DAY: Final = """
-- Events per day (UTC) and app.
SELECT day, app, SUM(events) AS events
FROM events_by_type_daily
WHERE day BETWEEN @since AND @until
GROUP BY day, app
"""

ACTIVE_USERS_BY_APP: Final = """
-- Distinct actors per day and app.
SELECT day, app, active_users
FROM active_users_daily
WHERE day BETWEEN @since AND @until
"""

ACTIVE_USERS_ALL_APPS: Final = """
-- Distinct actors per day across apps: someone using two apps counts once.
SELECT DATE(occurred_at) AS day, COUNT(DISTINCT actor_uid) AS active_users
FROM events_deduped
WHERE actor_uid IS NOT NULL AND DATE(occurred_at) BETWEEN @since AND @until
GROUP BY day
"""

ACTIVE_USERS_PERIOD: Final = """
-- Distinct actors in the whole period.
SELECT COUNT(DISTINCT actor_uid) AS users
FROM events_deduped
WHERE actor_uid IS NOT NULL AND DATE(occurred_at) BETWEEN @since AND @until
"""

COST_BY_APP: Final = """
-- Cost per day and app, with the events that carried usage and how many of those no
-- rate could price (in part or at all).
SELECT
  day,
  app,
  SUM(cost_usd) AS cost_usd,
  SUM(priced_events) AS events_with_usage,
  SUM(unpriced_events) AS unpriced_events,
  SUM(partially_priced_events) AS partially_priced_events
FROM cost_by_app_daily
WHERE day BETWEEN @since AND @until
GROUP BY day, app
"""

COST_BY_MODEL: Final = """
-- Cost per day, service and model, with the usage items no rate could price.
SELECT
  day,
  service,
  model_id,
  SUM(items) AS items,
  SUM(cost_usd) AS cost_usd,
  SUM(unpriced_items) AS unpriced_items
FROM cost_by_model_daily
WHERE day BETWEEN @since AND @until
GROUP BY day, service, model_id
"""

AUTH_FAILURES: Final = """
-- Per day, app and actor with at least one failed login.
SELECT day, app, actor_uid, actor_email, failed_logins, successful_logins, last_failure_at
FROM auth_failures
WHERE day BETWEEN @since AND @until
"""

DEAD_LETTERS: Final = """
-- Dead letters per reason (error class) and app, with the last one and a sample detail.
SELECT
  error_class,
  app,
  SUM(dead_letters) AS dead_letters,
  MAX(last_seen) AS last_seen,
  ANY_VALUE(sample_detail) AS sample_detail
FROM dead_letters_by_reason
WHERE day BETWEEN @since AND @until
GROUP BY error_class, app
"""

_CHAT_TURNS: Final = """
-- Chat turns, from the chat_turns view (after a migration, with the turns of an older
-- il-audit's chat_turns table): latency_ms_total is the whole turn (payload.latency_ms,
-- else latency_ms_total, to the ms), status says whether it failed. Turns without a
-- latency are counted, not charted.
WITH turns AS (
  SELECT
    t.status,
    CAST(t.latency_ms_total AS FLOAT64) AS latency_ms
  FROM chat_turns AS t
  WHERE DATE(t.logged_at) BETWEEN @since AND @until
)
"""


def _bucket_case(column: str) -> str:
    whens = " ".join(
        f"WHEN {column} < {edge} THEN {index}" for index, edge in enumerate(LATENCY_EDGES_MS)
    )
    return f"CASE {whens} ELSE {len(LATENCY_EDGES_MS)} END"


# Built from constants only (the bucket edges), never from input.
CHAT_LATENCY_HISTOGRAM: Final = (
    _CHAT_TURNS
    + f"""SELECT status, {_bucket_case("latency_ms")} AS bucket, COUNT(*) AS turns
FROM turns
WHERE latency_ms IS NOT NULL
GROUP BY status, bucket
"""  # noqa: S608
)

CHAT_LATENCY_SUMMARY: Final = (
    _CHAT_TURNS
    + """SELECT
  COUNT(*) AS turns,
  COUNTIF(latency_ms IS NULL) AS without_latency,
  MAX(p50) AS p50_ms,
  MAX(p90) AS p90_ms,
  MAX(p99) AS p99_ms
FROM (
  SELECT
    latency_ms,
    PERCENTILE_CONT(latency_ms, 0.5) OVER () AS p50,
    PERCENTILE_CONT(latency_ms, 0.9) OVER () AS p90,
    PERCENTILE_CONT(latency_ms, 0.99) OVER () AS p99
  FROM turns
)
"""
)

CHAT_FEEDBACK_RATE: Final = """
-- Per day of the turn (UTC): chat turns, and how many of them got at least one verdict
-- (chat_feedback_scores, joined on turn_id; a verdict may come on a later day).
SELECT
  DATE(t.logged_at) AS day,
  COUNT(*) AS turns,
  COUNTIF(f.turn_id IS NOT NULL) AS rated_turns
FROM chat_turns AS t
LEFT JOIN (SELECT DISTINCT turn_id FROM chat_feedback_scores) AS f ON f.turn_id = t.turn_id
WHERE DATE(t.logged_at) BETWEEN @since AND @until
GROUP BY day
"""

CHAT_FEEDBACK_VERDICTS: Final = """
-- Per day of the verdict (UTC): verdicts, those with a polarity (is_negative not null: a
-- boolean, a number, a known label) and the negative ones.
SELECT
  DATE(logged_at) AS day,
  COUNT(*) AS verdicts,
  COUNTIF(is_negative IS NOT NULL) AS with_polarity,
  COUNTIF(is_negative) AS negative
FROM chat_feedback_scores
WHERE DATE(logged_at) BETWEEN @since AND @until
GROUP BY day
"""

PIPELINE_DELAY: Final = """
-- Per hour of processing (UTC): events accepted, lines dead-lettered, p50 / p99 delay in
-- seconds from occurred_at to ingested_at.
SELECT hour, accepted_events, dead_lettered, p50_delay_seconds, p99_delay_seconds
FROM pipeline_health
WHERE DATE(hour) BETWEEN @since AND @until
"""


def latency_buckets() -> tuple[str, ...]:
    """The histogram's bucket labels, in order: ``< 250 ms``, ``250-500 ms``, ... ``>= 32 s``."""

    def label(ms: int) -> str:
        return f"{ms} ms" if ms < 1000 else f"{ms / 1000:g} s"

    def span(low: int, high: int) -> str:
        if (low < 1000) == (high < 1000):
            return f"{label(low).split()[0]}-{label(high)}"
        return f"{label(low)}-{label(high)}"

    edges = LATENCY_EDGES_MS
    return (
        f"< {label(edges[0])}",
        *(span(low, high) for low, high in itertools.pairwise(edges)),
        f">= {label(edges[-1])}",
    )


PIPELINE_COMPLETENESS: Final = """
-- Per publisher instance that emitted in the period (an hour row of pipeline_completeness
-- in it): its whole range's totals, the instance row (hour NULL) of the view.
SELECT
  t.publisher_instance_id,
  t.app,
  t.expected,
  t.stored,
  t.dead_lettered,
  t.dropped_reported,
  t.failed_reported,
  t.gap,
  t.heartbeat_final
FROM pipeline_completeness AS t
WHERE t.hour IS NULL
  AND t.publisher_instance_id IN (
    SELECT h.publisher_instance_id
    FROM pipeline_completeness AS h
    WHERE h.hour IS NOT NULL AND DATE(h.hour) BETWEEN @since AND @until
  )
"""
