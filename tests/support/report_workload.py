"""The report's workload, as data, and every number the report must show, computed from it.

Three days (the middle one empty) of logins, usage, chat turns, feedback on some of
the turns and rejects, plus a day before the period. ``tests/support/warehouses.py``
loads it through the subscriber's real ``Pipeline`` into an embedded file or a
dataset of the BigQuery stand-in. :func:`expected` computes what the report must
show from the envelopes, the ingestion times and the seed prices only, never from a
warehouse or from ``il_audit.report``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from il_audit.chat import emit_chat_feedback
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import Envelope, UsageItem
from tests.support.scenario import (
    HOUR,
    MINUTE,
    Step,
    Workload,
    api_usage,
    event,
    play,
    raw_line,
    resource_usage,
)
from tests.support.seed_prices import SEED_RATES

D0 = datetime(2026, 11, 20, tzinfo=UTC)
"""Before the period: its events must not be counted."""
D1 = datetime(2026, 11, 23, tzinfo=UTC)
D2 = D1 + timedelta(days=1)
"""Inside the period, without a single event (a gap the charts keep)."""
D3 = D1 + timedelta(days=2)
SINCE, UNTIL = D1.date(), D3.date()

HOSTILE_EMAIL = '<img src=x onerror="alert(1)">@evil.example'
"""An actor email that is HTML: the page must show it as text."""
HOSTILE_APP = "<script>alert('app')</script>"
"""An app name that is HTML (app names are free text): in a chart's series, in a table, and in
dead_letters.app of a malformed envelope."""

ANA = AuditContext(app="ingest", actor_uid="u-ana", actor_email="ana@example.com")
BEN = AuditContext(app="chat", actor_uid="u-ben", actor_email="ben@example.com")
EVE = AuditContext(app="chat", actor_uid="u-eve", actor_email="eve@example.com")
CARL = AuditContext(app="admin", actor_uid="u-carl", actor_email="carl@example.com")
MALLORY = AuditContext(app=HOSTILE_APP, actor_email=HOSTILE_EMAIL)
JOB = AuditContext(app="ingest", actor_uid="u-ana", source="job")
SYNC = AuditContext(app="ingest", source="job")
"""A numbering publisher's events (``pipeline_completeness``), written out by hand."""
INSTANCE_A = "a" * 32
"""Numbers 1, 2 and its final heartbeat 4 stored; 3 reported dropped by the heartbeat: no gap."""
INSTANCE_B = "b" * 32
"""Numbers 1 and 4 stored, 2 dead-lettered, 3 missing and no heartbeat: a gap of 1."""

LATENCY_BUCKETS = {
    # latency_ms of the fixture's chat turns -> the histogram bucket the report must use
    300: "250-500 ms",
    600: "500 ms-1 s",
    1200: "1-2 s",
    2500: "2-4 s",
    9500: "8-16 s",
    40000: ">= 32 s",
}


GEMINI = {"service": "vertex_gemini", "operation": "generate_content"}
TURN_D1, TURN_D3A, TURN_D3B = (f"0193b000-0000-7000-8000-00000000f00{n}" for n in (1, 2, 3))
"""Turns that get feedback (their event_id is chat_turns.turn_id)."""


def feedback(at: datetime, context: AuditContext, **fields: Any) -> Step:
    """``emit_chat_feedback(context=context, **fields)`` at ``at``."""
    return Step(at, emit_chat_feedback, (), {"context": context, **fields}, 2.0)


CARL_LOGINS = (
    T.AUTH_LOGIN_FAILED,
    T.AUTH_LOGIN_FAILED,
    T.AUTH_LOGIN_FAILED,
    T.AUTH_LOGIN_SUCCEEDED,
)
"""Carl fails to log in most (3 times), then ana (2)."""

STEPS: tuple[Step, ...] = (
    # Before the period.
    event(D0 + 8 * HOUR, T.AUTH_LOGIN_FAILED, ANA, action="login", status="failed"),
    api_usage(D0 + 9 * HOUR, ANA, **GEMINI, model_id="gemini-2.0-flash",
              input_tokens=1_000_000),
    # D1: logins; ana fails twice, mallory (email only, hostile) once.
    event(D1 + 8 * HOUR, T.AUTH_LOGIN_FAILED, ANA, action="login", status="failed"),
    event(D1 + 8 * HOUR + MINUTE, T.AUTH_LOGIN_FAILED, ANA, action="login", status="failed"),
    event(D1 + 8 * HOUR + 2 * MINUTE, T.AUTH_LOGIN_SUCCEEDED, ANA, ingested_after=30,
          action="login", status="succeeded"),
    event(D1 + 9 * HOUR, T.AUTH_LOGIN_SUCCEEDED, BEN, action="login", status="succeeded"),
    event(D1 + 16 * HOUR, T.AUTH_LOGIN_FAILED, MALLORY, action="login", status="failed"),
    # D1: usage, priced and not.
    api_usage(D1 + 12 * HOUR, JOB, ingested_after=4, **GEMINI, model_id="gemini-2.0-flash",
              input_tokens=120_000, output_tokens=8_000),
    resource_usage(D1 + 12 * HOUR + 5 * MINUTE, JOB, ingested_after=6, resource_type="cpu",
                   quantity=142.5, unit="vCPU_second"),
    api_usage(D1 + 15 * HOUR, EVE, ingested_after=600, **GEMINI,
              model_id="gemini-9-experimental", input_tokens=700, output_tokens=70),
    # D1: chat turns; one with latency_ms only, one with none.
    event(D1 + 14 * HOUR, T.CHAT_TURN_SUCCEEDED, EVE, status="succeeded",
          latency_ms_total=1200, event_id=TURN_D1,
          usage=[{"service": "vertex_gemini", "model_id": "gemini-2.5-flash-lite",
                  "input_tokens": 10_000, "output_tokens": 1_000}]),
    event(D1 + 14 * HOUR + 5 * MINUTE, T.CHAT_TURN_SUCCEEDED, EVE, status="succeeded",
          latency_ms=300),
    event(D1 + 14 * HOUR + 10 * MINUTE, T.CHAT_TURN_FAILED, EVE, ingested_after=3,
          status="failed", latency_ms_total=9500),
    event(D1 + 14 * HOUR + 15 * MINUTE, T.CHAT_TURN_SUCCEEDED, EVE, status="succeeded"),
    # D1: 1 of 4 turns rated, one verdict of 2 negative.
    feedback(D1 + 14 * HOUR + 20 * MINUTE, EVE, turn_id=TURN_D1, name="thumbs", value=False),
    feedback(D1 + 14 * HOUR + 21 * MINUTE, EVE, turn_id=TURN_D1, name="correct", value=1),
    # D3: logins, a logout, chat turns, a partially priced job.
    event(D3 + 8 * HOUR, T.AUTH_LOGIN_SUCCEEDED, ANA, ingested_after=1, action="login",
          status="succeeded"),
    *(
        event(D3 + 9 * HOUR + 5 * minute * MINUTE, event_type, CARL, ingested_after=1,
              action="login",
              status="failed" if event_type == T.AUTH_LOGIN_FAILED else "succeeded")
        for minute, event_type in enumerate(CARL_LOGINS)
    ),
    event(D3 + 10 * HOUR, T.CHAT_TURN_SUCCEEDED, BEN, ingested_after=8, status="succeeded",
          latency_ms_total=600, event_id=TURN_D3A,
          usage=[{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                  "input_tokens": 50_000, "output_tokens": 1_000}]),
    event(D3 + 10 * HOUR + 30 * MINUTE, T.CHAT_TURN_SUCCEEDED, EVE, ingested_after=8,
          status="succeeded", latency_ms_total=2500, event_id=TURN_D3B),
    # D3: 2 of 3 turns rated; of two verdicts, one has no polarity, the other is positive.
    feedback(D3 + 12 * HOUR, BEN, turn_id=TURN_D3A, name="thumbs", value=True),
    feedback(D3 + 12 * HOUR + MINUTE, EVE, turn_id=TURN_D3B, name="helpful", value="partly"),
    event(D3 + 11 * HOUR, T.CHAT_TURN_FAILED, BEN, ingested_after=45, status="failed",
          latency_ms_total=40000),
    event(D3 + 13 * HOUR, T.INGEST_JOB_COMPLETED, JOB, batch_id="j-9", status="succeeded",
          usage=[{"service": "cloud_run", "model_id": "cpu_second", "quantity": 30.0,
                  "unit": "vCPU_second"},
                 {"service": "vertex_gemini", "model_id": "gemini-9-experimental",
                  "input_tokens": 5_000}]),
    event(D3 + 17 * HOUR, T.AUTH_LOGOUT, ANA, action="logout", status="succeeded"),
    # D3: two numbering publisher instances (see INSTANCE_A and INSTANCE_B).
    *(
        event(D3 + 18 * HOUR + n * MINUTE, T.INGEST_FILE_INDEXED, SYNC,
              publisher_instance_id=INSTANCE_A, publisher_sequence=n, status="succeeded")
        for n in (1, 2)
    ),
    event(D3 + 18 * HOUR + 5 * MINUTE, T.AUDIT_PUBLISHER_HEARTBEAT, SYNC,
          publisher_instance_id=INSTANCE_A, publisher_sequence=4, last_sequence=4,
          accepted=3, published=2, invalid=0, failed=0, dropped=1, spooled=0, drained=0,
          pending=1, final=True),
    *(
        event(D3 + 19 * HOUR + n * MINUTE, T.INGEST_FILE_INDEXED, SYNC,
              publisher_instance_id=INSTANCE_B, publisher_sequence=n, status="succeeded")
        for n in (1, 4)
    ),
)  # fmt: skip
"""The whole scenario, in emit order."""

REJECTED: tuple[tuple[bytes, datetime], ...] = (
    (b'{"event_id": "broken', D0 + 10 * HOUR),
    (b'{"event_id": "broken', D1 + 12 * HOUR),
    (raw_line(event_type="no.such.type", app="ingest", occurred_at=D1), D1 + 12 * HOUR),
    (raw_line(event_type="auth.logout", app=HOSTILE_APP, status="x" * 300, occurred_at=D3),
     D3 + 9 * HOUR),
    (raw_line(event_type="billing.invoice.sent", app="admin", occurred_at=D3),
     D3 + 9 * HOUR + MINUTE),
    (raw_line(event_type="no.such.type", app="ingest", occurred_at=D3 + 19 * HOUR,
              publisher_instance_id=INSTANCE_B, publisher_sequence=2),
     D3 + 19 * HOUR + 10 * MINUTE),
)  # fmt: skip
"""Lines the subscriber must reject, with when it did."""


def build() -> Workload:
    """The scenario played through the real API."""
    return play(STEPS, REJECTED)


def in_period(workload: Workload) -> list[Envelope]:
    """The envelopes of the report's days."""
    return [e for e in workload.envelopes if SINCE <= e.occurred_at.date() <= UNTIL]


# ---------------------------------------------------------------------------------------
# What the report must say, computed from the workload alone.

NANO = Decimal("0.000000001")


def item_cost(item: UsageItem) -> Decimal | None:
    """The seed price of one usage item (None when no seed rate prices it)."""
    prices = SEED_RATES.get((item.service, item.model_id))
    if prices is None:
        return None
    input_price, output_price, unit_price = prices
    total = Decimal(0)
    if input_price is not None or output_price is not None:
        total += (
            (item.input_tokens or 0) * (input_price or 0)
            + (item.output_tokens or 0) * (output_price or 0)
        ) / Decimal(1_000_000)
    if item.quantity is not None and unit_price is not None:
        total += Decimal(repr(item.quantity)) * unit_price
    return total.quantize(NANO, rounding=ROUND_HALF_EVEN)


def percentile_cont(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (BigQuery's PERCENTILE_CONT)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Expected:
    """Chart marks ``{chart: {(series, category): value}}`` (zeros left out) and figures."""

    marks: dict[str, dict[tuple[str, str], Any]]
    figures: dict[str, Any]


def _day(value: datetime | date) -> str:
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def expected(workload: Workload) -> Expected:
    """Every number the fixture's report must show, from the envelopes and ingestion times."""
    events = in_period(workload)
    marks: dict[str, dict[tuple[str, str], Any]] = defaultdict(dict)
    figures: dict[str, Any] = {}

    per_day_app = Counter((e.app, _day(e.occurred_at)) for e in events)
    marks["events_per_day"] = dict(per_day_app)
    figures["events_total"] = len(events)

    users: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in events:
        if e.actor_uid:
            users[(e.app, _day(e.occurred_at))].add(e.actor_uid)
            users[("all apps", _day(e.occurred_at))].add(e.actor_uid)
    marks["active_users"] = {key: len(uids) for key, uids in users.items()}
    figures["users_total"] = len({e.actor_uid for e in events if e.actor_uid})

    _cost(events, marks, figures)

    failures = [e for e in events if e.event_type == T.AUTH_LOGIN_FAILED]
    marks["auth_failures"] = dict(Counter((e.app, _day(e.occurred_at)) for e in failures))
    figures["failed_logins"] = len(failures)

    reasons: Counter[str] = Counter()
    for line, when in workload.rejected:
        if SINCE <= when.date() <= UNTIL:
            reasons[_reason(line)] += 1
    marks["dead_letter_reasons"] = {("dead letters", r): n for r, n in reasons.items()}
    figures["dead_letters"] = sum(reasons.values())

    _chat(events, marks, figures)
    _feedback(events, marks, figures)

    delays: dict[str, list[float]] = defaultdict(list)
    for e in workload.envelopes:
        ingested = workload.ingested_at[e.event_id]
        if SINCE <= ingested.date() <= UNTIL:
            delays[ingested.strftime("%Y-%m-%d %H:00")].append(
                (ingested - e.occurred_at).total_seconds()
            )
    marks["pipeline_delay"] = {
        **{("p50", hour): percentile_cont(v, 0.5) for hour, v in delays.items()},
        **{("p99", hour): percentile_cont(v, 0.99) for hour, v in delays.items()},
    }
    figures["accepted_events"] = sum(len(v) for v in delays.values())
    _completeness(workload, figures)
    return Expected(dict(marks), figures)


def _completeness(workload: Workload, figures: dict[str, Any]) -> None:
    """Per numbered instance: the numbers seen (stored or in a rejected line), the latest
    heartbeat's, and what is left over (every instance here emitted in the period)."""
    stored: dict[str, set[int]] = defaultdict(set)
    dead: dict[str, set[int]] = defaultdict(set)
    heartbeats: dict[str, dict[str, Any]] = {}
    for e in workload.envelopes:
        if e.publisher_instance_id is None or e.publisher_sequence is None:
            continue
        stored[e.publisher_instance_id].add(e.publisher_sequence)
        if e.event_type == T.AUDIT_PUBLISHER_HEARTBEAT:
            heartbeats[e.publisher_instance_id] = e.payload or {}
    for line, _when in workload.rejected:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if "publisher_sequence" in data:
            dead[data["publisher_instance_id"]].add(data["publisher_sequence"])
    totals = Counter[str]()
    for instance in stored.keys() | dead.keys():
        beat = heartbeats.get(instance, {})
        seen = stored[instance] | dead[instance]
        expected = max(*seen, beat.get("last_sequence", 0))
        lost = beat.get("dropped", 0) + beat.get("failed", 0)
        totals["expected"] += expected
        totals["stored"] += len(stored[instance])
        totals["completeness_dead_lettered"] += len(dead[instance] - stored[instance])
        totals["dropped_reported"] += beat.get("dropped", 0)
        totals["gap"] += expected - len(seen) - lost
    figures["publisher_instances"] = len(stored.keys() | dead.keys())
    figures.update(totals)


Marks = dict[str, dict[tuple[str, str], Any]]


def _cost(events: list[Envelope], marks: Marks, figures: dict[str, Any]) -> None:
    cost_app: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    cost_model: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with_usage: Counter[str] = Counter()
    unpriced: Counter[str] = Counter()
    partial: Counter[str] = Counter()
    items = unpriced_items = 0
    for e in events:
        if not e.usage:
            continue
        day = _day(e.occurred_at)
        with_usage[day] += 1
        costs = [item_cost(item) for item in e.usage]
        priced = [c for c in costs if c is not None]
        if not priced:
            unpriced[day] += 1
        elif len(priced) < len(costs):
            partial[day] += 1
        for item, item_price in zip(e.usage, costs, strict=True):
            items += 1
            if item_price is None:
                unpriced_items += 1
                continue
            cost_app[(e.app, day)] += item_price
            cost_model[(f"{item.service} / {item.model_id}", day)] += item_price
    marks["cost_by_app"] = {k: v for k, v in cost_app.items() if v}
    marks["cost_by_model"] = {k: v for k, v in cost_model.items() if v}
    marks["unpriced_share"] = {
        **{("unpriced", d): unpriced[d] / n for d, n in with_usage.items() if unpriced[d]},
        **{("partially priced", d): partial[d] / n for d, n in with_usage.items() if partial[d]},
    }
    figures["cost_total"] = sum(cost_app.values(), Decimal(0))
    figures["events_with_usage"] = sum(with_usage.values())
    figures["unpriced_event_share"] = sum(unpriced.values()) / sum(with_usage.values())
    figures["unpriced_items"] = unpriced_items
    figures["unpriced_item_share"] = unpriced_items / items


def _chat(events: list[Envelope], marks: Marks, figures: dict[str, Any]) -> None:
    latencies: list[float] = []
    buckets: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e.event_type not in (T.CHAT_TURN_SUCCEEDED, T.CHAT_TURN_FAILED):
            continue
        payload = e.payload or {}
        latency = payload.get("latency_ms_total", payload.get("latency_ms"))
        if latency is None:
            continue
        latencies.append(float(latency))
        outcome = "failed" if e.event_type == T.CHAT_TURN_FAILED else "succeeded"
        buckets[(outcome, LATENCY_BUCKETS[latency])] += 1
    marks["chat_latency"] = dict(buckets)
    figures["chat_turns"] = len(latencies)
    figures["chat_p50_ms"] = percentile_cont(latencies, 0.5)
    figures["chat_p90_ms"] = percentile_cont(latencies, 0.9)
    figures["chat_p99_ms"] = percentile_cont(latencies, 0.99)


NEGATIVE_VALUES = {False: True, True: False, "partly": None}
"""The fixture's feedback values and their polarity (None: an unknown label has none); the
number 1.0 finds True's entry (1.0 == True): positive."""


def _feedback(events: list[Envelope], marks: Marks, figures: dict[str, Any]) -> None:
    turns: dict[str, str] = {}
    verdicts: list[tuple[str, str, Any]] = []
    for e in events:
        if e.event_type in (T.CHAT_TURN_SUCCEEDED, T.CHAT_TURN_FAILED):
            turns[e.event_id] = _day(e.occurred_at)
        elif e.event_type == T.CHAT_FEEDBACK:
            payload = e.payload or {}
            value = next(payload[k] for k in ("value_bool", "value_number", "value_label")
                         if k in payload)  # fmt: skip
            verdicts.append((_day(e.occurred_at), str(e.correlation_id), value))
    rated = {turn for _day_, turn, _value in verdicts}
    per_day = Counter(turns.values())
    rated_per_day = Counter(day for turn, day in turns.items() if turn in rated)
    polar = Counter(d for d, _t, v in verdicts if NEGATIVE_VALUES[v] is not None)
    negative = Counter(d for d, _t, v in verdicts if NEGATIVE_VALUES[v])
    marks["chat_feedback"] = {
        **{("feedback rate", d): rated_per_day[d] / n for d, n in per_day.items()},
        **{("negative share", d): negative[d] / n for d, n in polar.items()},
    }
    figures["feedback_verdicts"] = len(verdicts)
    figures["feedback_rate"] = len(rated) / len(turns)
    figures["feedback_negative"] = sum(negative.values()) / sum(polar.values())


def _reason(line: bytes) -> str:
    if line.startswith(b'{"event_id": "broken'):
        return "invalid_json"
    if b"<script>" in line:
        return "schema_violation"
    return "unknown_event_type"


def nonzero(marks: dict[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """The marks whose value is not zero (bars draw nothing for a zero)."""
    return {key: value for key, value in marks.items() if value}
