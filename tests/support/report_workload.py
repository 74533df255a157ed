"""A small workload with known numbers for the report, written through the real pipeline.

The events are emitted through the public API (``emit``, ``emit_api_usage``,
``emit_resource_usage``, captured with ``capture_events``), given the times of
the scenario, and handed one message each to the subscriber's ``Pipeline``
(built by ``build_pipeline``, as the embedded transport and the function do),
whose clock is set to each event's ingestion time. :func:`load_duckdb` writes
them into an embedded file; :func:`load_bigquery` into a dataset of the BigQuery
stand-in, with the views created by ``infra apply``'s code.

:func:`expected` computes what the report must show from the envelopes, the
ingestion times and the seed prices only, never from a warehouse or from
``il_audit.report``.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from il_audit.operations.infra import BigQueryProvisioner, apply_warehouse
from il_audit.publisher import emit, emit_api_usage, emit_resource_usage
from il_audit.publisher.context import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import Envelope, UsageItem, envelope_json
from il_audit.subscriber_fn.core import MessageMeta
from il_audit.subscriber_fn.pipeline import Pipeline, build_pipeline
from tests.support.factories import make_settings
from tests.support.workload import SEED_RATES

D0 = datetime(2026, 11, 20, tzinfo=UTC)
"""Before the period: its events must not be counted."""
D1 = datetime(2026, 11, 23, tzinfo=UTC)
D2 = D1 + timedelta(days=1)
"""Inside the period, without a single event (a gap the charts keep)."""
D3 = D1 + timedelta(days=2)
SINCE, UNTIL = D1.date(), D3.date()
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

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

LATENCY_BUCKETS = {
    # latency_ms of the fixture's chat turns -> the histogram bucket the report must use
    300: "250-500 ms",
    600: "500 ms-1 s",
    1200: "1-2 s",
    2500: "2-4 s",
    9500: "8-16 s",
    40000: ">= 32 s",
}


@dataclass
class ReportWorkload:
    """The emitted envelopes, when each was ingested, and the lines that must be rejected."""

    envelopes: list[Envelope] = field(default_factory=list)
    ingested_at: dict[str, datetime] = field(default_factory=dict)
    rejected: list[tuple[bytes, datetime]] = field(default_factory=list)

    def in_period(self) -> list[Envelope]:
        """The envelopes of the report's days."""
        return [e for e in self.envelopes if SINCE <= e.occurred_at.date() <= UNTIL]


class _Scene:
    def __init__(self, captured: list[Envelope], workload: ReportWorkload) -> None:
        self.captured = captured
        self.workload = workload

    def at(self, when: datetime, delay_seconds: float = 2.0) -> None:
        """Give the event just emitted its time, and its ingestion ``delay_seconds`` later."""
        envelope = self.captured[-1].model_copy(update={"occurred_at": when})
        self.captured[-1] = envelope
        self.workload.envelopes.append(envelope)
        self.workload.ingested_at[envelope.event_id] = when + timedelta(seconds=delay_seconds)


def build() -> ReportWorkload:
    """Three days (the middle one empty) of logins, usage, chat turns and rejects, plus a day
    before the period. Carl fails to log in most (3 times), then ana (2)."""
    workload = ReportWorkload()
    with capture_events() as captured:
        scene = _Scene(captured, workload)
        # Before the period.
        emit(T.AUTH_LOGIN_FAILED, context=ANA, action="login", status="failed")
        scene.at(D0 + 8 * HOUR)
        emit_api_usage(context=ANA, service="vertex_gemini", operation="generate_content",
                       model_id="gemini-2.0-flash", input_tokens=1_000_000)  # fmt: skip
        scene.at(D0 + 9 * HOUR)
        # D1: logins; ana fails twice, mallory (email only, hostile) once.
        emit(T.AUTH_LOGIN_FAILED, context=ANA, action="login", status="failed")
        scene.at(D1 + 8 * HOUR)
        emit(T.AUTH_LOGIN_FAILED, context=ANA, action="login", status="failed")
        scene.at(D1 + 8 * HOUR + MINUTE)
        emit(T.AUTH_LOGIN_SUCCEEDED, context=ANA, action="login", status="succeeded")
        scene.at(D1 + 8 * HOUR + 2 * MINUTE, delay_seconds=30)
        emit(T.AUTH_LOGIN_SUCCEEDED, context=BEN, action="login", status="succeeded")
        scene.at(D1 + 9 * HOUR)
        emit(T.AUTH_LOGIN_FAILED, context=MALLORY, action="login", status="failed")
        scene.at(D1 + 16 * HOUR)
        # D1: usage, priced and not.
        emit_api_usage(
            context=JOB,
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-2.0-flash",
            input_tokens=120_000,
            output_tokens=8_000,
        )
        scene.at(D1 + 12 * HOUR, delay_seconds=4)
        emit_resource_usage(context=JOB, resource_type="cpu", quantity=142.5, unit="vCPU_second")
        scene.at(D1 + 12 * HOUR + 5 * MINUTE, delay_seconds=6)
        emit_api_usage(
            context=EVE,
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-9-experimental",
            input_tokens=700,
            output_tokens=70,
        )
        scene.at(D1 + 15 * HOUR, delay_seconds=600)
        # D1: chat turns; one with latency_ms only, one with none.
        emit(
            T.CHAT_TURN_SUCCEEDED,
            context=EVE,
            status="succeeded",
            latency_ms_total=1200,
            usage=[
                {
                    "service": "vertex_gemini",
                    "model_id": "gemini-2.5-flash-lite",
                    "input_tokens": 10_000,
                    "output_tokens": 1_000,
                }
            ],
        )
        scene.at(D1 + 14 * HOUR)
        emit(T.CHAT_TURN_SUCCEEDED, context=EVE, status="succeeded", latency_ms=300)
        scene.at(D1 + 14 * HOUR + 5 * MINUTE)
        emit(T.CHAT_TURN_FAILED, context=EVE, status="failed", latency_ms_total=9500)
        scene.at(D1 + 14 * HOUR + 10 * MINUTE, delay_seconds=3)
        emit(T.CHAT_TURN_SUCCEEDED, context=EVE, status="succeeded")
        scene.at(D1 + 14 * HOUR + 15 * MINUTE)
        # D3: logins, a logout, chat turns, a partially priced job.
        emit(T.AUTH_LOGIN_SUCCEEDED, context=ANA, action="login", status="succeeded")
        scene.at(D3 + 8 * HOUR, delay_seconds=1)
        for minute, event_type in enumerate(
            (T.AUTH_LOGIN_FAILED, T.AUTH_LOGIN_FAILED, T.AUTH_LOGIN_FAILED, T.AUTH_LOGIN_SUCCEEDED)
        ):
            emit(
                event_type,
                context=CARL,
                action="login",
                status="failed" if event_type == T.AUTH_LOGIN_FAILED else "succeeded",
            )
            scene.at(D3 + 9 * HOUR + 5 * minute * MINUTE, delay_seconds=1)
        emit(
            T.CHAT_TURN_SUCCEEDED,
            context=BEN,
            status="succeeded",
            latency_ms_total=600,
            usage=[
                {
                    "service": "vertex_gemini",
                    "model_id": "gemini-2.0-flash",
                    "input_tokens": 50_000,
                    "output_tokens": 1_000,
                }
            ],
        )
        scene.at(D3 + 10 * HOUR, delay_seconds=8)
        emit(T.CHAT_TURN_SUCCEEDED, context=EVE, status="succeeded", latency_ms_total=2500)
        scene.at(D3 + 10 * HOUR + 30 * MINUTE, delay_seconds=8)
        emit(T.CHAT_TURN_FAILED, context=BEN, status="failed", latency_ms_total=40000)
        scene.at(D3 + 11 * HOUR, delay_seconds=45)
        emit(
            T.INGEST_JOB_COMPLETED,
            context=JOB,
            batch_id="j-9",
            status="succeeded",
            usage=[
                {
                    "service": "cloud_run",
                    "model_id": "cpu_second",
                    "quantity": 30.0,
                    "unit": "vCPU_second",
                },
                {
                    "service": "vertex_gemini",
                    "model_id": "gemini-9-experimental",
                    "input_tokens": 5_000,
                },
            ],
        )
        scene.at(D3 + 13 * HOUR, delay_seconds=2)
        emit(T.AUTH_LOGOUT, context=ANA, action="logout", status="succeeded")
        scene.at(D3 + 17 * HOUR)
    workload.rejected.extend(
        [
            (b'{"event_id": "broken', D0 + 10 * HOUR),
            (b'{"event_id": "broken', D1 + 12 * HOUR),
            (_line(event_type="no.such.type", app="ingest", occurred_at=D1), D1 + 12 * HOUR),
            (_line(event_type="auth.logout", app=HOSTILE_APP, status="x" * 300, occurred_at=D3),
             D3 + 9 * HOUR),
            (_line(event_type="billing.invoice.sent", app="admin", occurred_at=D3),
             D3 + 9 * HOUR + MINUTE),
        ]
    )  # fmt: skip
    return workload


def _line(**fields: Any) -> bytes:
    import json

    envelope = {
        "schema_version": 1,
        "event_id": f"bad-{uuid.uuid4().hex[:8]}",
        **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()},
    }
    return json.dumps(envelope).encode()


def write(pipeline: Pipeline, workload: ReportWorkload) -> None:
    """Each event and each rejected line as its own message, at its ingestion time."""
    messages = [
        (envelope_json(envelope), workload.ingested_at[envelope.event_id])
        for envelope in workload.envelopes
    ]
    messages.extend(workload.rejected)
    try:
        for index, (data, when) in enumerate(messages):
            pipeline.clock = lambda when=when: when  # type: ignore[misc]
            pipeline.handle(data, {}, MessageMeta(message_id=f"m-{index}", publish_time=when))
    finally:
        pipeline.sink.close()


def load_duckdb(path: Path, workload: ReportWorkload) -> Path:
    """The workload in an embedded file, through the embedded mode's pipeline and sink."""
    settings = make_settings(sink="duckdb", duckdb_path=str(path))
    write(build_pipeline(settings, with_topic=False), workload)
    return path


@dataclass
class BigQueryDataset:
    """A dataset of the stand-in holding the workload, with the views."""

    project: str
    dataset: str
    url: str
    client: Any

    def close(self) -> None:
        """Drop the dataset (the stand-in snapshots tables on insert: keep it small)."""
        self.client.delete_dataset(self.dataset, delete_contents=True, not_found_ok=True)
        self.client.close()


def load_bigquery(
    url: str, project: str, workload: ReportWorkload, grpc_address: str
) -> BigQueryDataset:
    """The workload in a fresh dataset of the stand-in, through the function's pipeline and
    the BigQuery sink (Storage Write API); the views are created as ``infra apply`` does."""
    dataset = f"report_{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        sink="bigquery",
        project=project,
        dataset=dataset,
        bq_api_endpoint=url,
        bq_storage_api_endpoint=grpc_address,
    )
    pipeline = build_pipeline(settings, with_topic=False)
    client = pipeline.sink.client  # type: ignore[attr-defined]
    write(pipeline, workload)
    provisioner = BigQueryProvisioner(client, dataset, None)
    apply_warehouse(provisioner, settings, dry_run=False, record=lambda _change: None)
    return BigQueryDataset(project, dataset, url, client)


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


def expected(workload: ReportWorkload) -> Expected:
    """Every number the fixture's report must show, from the envelopes and ingestion times."""
    events = workload.in_period()
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
    return Expected(dict(marks), figures)


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


def _reason(line: bytes) -> str:
    if line.startswith(b'{"event_id": "broken'):
        return "invalid_json"
    if b"<script>" in line:
        return "schema_violation"
    return "unknown_event_type"


def nonzero(marks: dict[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """The marks whose value is not zero (bars draw nothing for a zero)."""
    return {key: value for key, value in marks.items() if value}
