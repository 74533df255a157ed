"""A small, realistic two-day workload for the view tests, and the two warehouses holding it.

The events are emitted through the real API (``emit``, ``emit_api_usage``,
``emit_resource_usage``, captured with ``capture_events``), given the times
of the scenario, and run through the subscriber's core one message each, with
an ingestion time per event. Tests compute what the views should say from
:attr:`Workload.envelopes` and the constants here, never from the warehouse.

:class:`DuckDBWarehouse` and :class:`BigQueryWarehouse` hold the same rows and
answer the same BigQuery SQL: ``{ds}`` in a query stands for the dataset
(``project.dataset`` on BigQuery; dropped on DuckDB, as ``il-audit query``
does), so a seed-era query runs unchanged on both.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.operations.infra import BigQueryProvisioner, apply_warehouse
from il_audit.publisher import emit, emit_api_usage, emit_resource_usage
from il_audit.publisher.context import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import Envelope, envelope_json
from il_audit.sql import for_duckdb
from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.pricing import Rate, seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import make_settings

DAY1 = datetime(2026, 11, 23, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)

SEED_RATES = {
    # (service, model_id): (input $/1M, output $/1M, unit price): the bundled catalog's
    # standard prices in force on DAY1 and DAY2 (its second period, from 2026-07-05).
    ("vertex_gemini", "gemini-2.0-flash"): (Decimal("0.15"), Decimal("0.6"), None),
    ("vertex_gemini", "gemini-2.5-flash-lite"): (Decimal("0.1"), Decimal("0.4"), None),
    ("cloud_run", "cpu_second"): (None, None, Decimal("0.000024")),
    ("vertex_embedding", "gemini-embedding-001"): (Decimal("0.025"), Decimal("0"), None),
    ("vertex_rerank", "semantic-ranker-default"): (Decimal("0"), Decimal("0"), Decimal("0.001")),
}
"""The prices the subscriber stores (``cost_rates_seed.json``); other models are unpriced."""
SEED_BATCH_RATES = {
    # (service, model_id): the batch-tier prices of the same catalog; a batch item of any
    # other model is priced at its standard rate (the fallback).
    ("vertex_gemini", "gemini-2.0-flash"): (Decimal("0.075"), Decimal("0.3"), None),
    ("vertex_gemini", "gemini-2.5-flash-lite"): (Decimal("0.05"), Decimal("0.2"), None),
}
SEED_RATE_VERSION = "2026-08-31"
"""The ``rate_version`` of those prices."""


def seed_rate(
    item: Any,
) -> tuple[tuple[Decimal | None, Decimal | None, Decimal | None], str] | None:
    """The seed prices that price ``item`` at its tier, and that rate's tier (None: unpriced).

    A tier without a rate falls back to the standard rate, as the subscriber does.
    """
    key = (item.service, item.model_id)
    if (item.pricing_tier or "standard") == "batch" and key in SEED_BATCH_RATES:
        return SEED_BATCH_RATES[key], "batch"
    if key in SEED_RATES:
        return SEED_RATES[key], "standard"
    return None


TABLE_RATES = [
    # cost_rates rows for costs_repriced: gemini-2.0-flash gets cheaper from DAY2.
    Rate(
        "vertex_gemini",
        "gemini-2.0-flash",
        date(2026, 7, 1),
        Decimal("0.12"),
        Decimal("0.48"),
        unit="tokens",
        rate_version="table-2026-07",
    ),
    Rate(
        "vertex_gemini",
        "gemini-2.0-flash",
        DAY2.date(),
        Decimal("0.05"),
        Decimal("0.2000000015"),
        unit="tokens",
        rate_version="table-2026-11",
    ),
    Rate(
        "cloud_run",
        "cpu_second",
        date(2026, 7, 1),
        unit_price=Decimal("0.00003"),
        unit="vCPU_second",
        rate_version="table-2026-07",
    ),
]

ANA = AuditContext(app="ingest", actor_uid="u-ana", actor_email="ana@example.com", trace_id="t-ana")
CHAT = AuditContext(
    app="chat",
    actor_uid="u-eve",
    actor_email="eve@example.com",
    trace_id="t-chat",
    request_id="req-chat",
    session_id="conv-1",
    environment="production",
    app_version="2.4.0",
)
"""The chat app's context for conversation conv-1 (what emit_chat_turn takes from it)."""
QUESTION = "How do I reset my password?"
BEN = AuditContext(app="ingest", actor_uid="u-ben", actor_email="ben@example.com")
EVE = AuditContext(app="chat", actor_email="eve@example.com")
BEN_BROWSER = AuditContext(app="ingest", actor_uid="u-ben", source="beacon", session_id="s-ben")
INGEST_JOB = AuditContext(app="ingest", source="job", request_id="req-job")


@dataclass
class Workload:
    """The emitted envelopes, their ingestion times, and the rejected lines."""

    envelopes: list[Envelope] = field(default_factory=list)
    ingested_at: dict[str, datetime] = field(default_factory=dict)
    """event_id -> when the subscriber processed it."""
    rejected: list[tuple[bytes, datetime]] = field(default_factory=list)
    """(line, when it was rejected)."""

    def rows(self) -> list[dict[str, Any]]:
        """events rows, from the subscriber's core (seed catalog)."""
        rows = []
        for envelope in self.envelopes:
            when = self.ingested_at[envelope.event_id]
            result = process_message(envelope_json(envelope), _meta(when), seed_catalog(), when)
            assert not result.rejects, result.rejects
            rows.extend(result.rows)
        return rows

    def dead_letter_rows(self) -> list[dict[str, Any]]:
        """dead_letters rows for the rejected lines."""
        rows = []
        for line, when in self.rejected:
            meta = _meta(when)
            result = process_message(line, meta, seed_catalog(), when)
            assert len(result.rejects) == 1, line
            rows.append(dead_letter_row(result.rejects[0], {}, meta, when))
        return rows

    def of_type(self, *event_types: str) -> list[Envelope]:
        """The envelopes of these types, in emit order."""
        return [envelope for envelope in self.envelopes if envelope.event_type in event_types]


def _meta(when: datetime) -> MessageMeta:
    return MessageMeta(message_id=f"m-{uuid.uuid4().hex[:12]}", publish_time=when)


class _Scenario:
    def __init__(self, captured: list[Envelope], workload: Workload) -> None:
        self.captured = captured
        self.workload = workload

    def at(self, when: datetime, delay_seconds: float = 2.0) -> None:
        """Give the event just emitted its time, and its ingestion ``delay_seconds`` later."""
        envelope = self.captured[-1].model_copy(update={"occurred_at": when})
        self.captured[-1] = envelope
        self.workload.envelopes.append(envelope)
        self.workload.ingested_at[envelope.event_id] = when + timedelta(seconds=delay_seconds)


def build_workload() -> Workload:
    """Two days of an ingest app, a chat app and a browser: logins, jobs, files, usage, UI."""
    workload = Workload()
    with capture_events() as captured:
        scene = _Scenario(captured, workload)
        h = timedelta(hours=1)
        m = timedelta(minutes=1)
        # Logins: ana fails twice then succeeds on DAY1; eve (email only) fails on DAY2.
        emit(
            T.AUTH_LOGIN_FAILED,
            context=ANA,
            action="login",
            status="failed",
            metadata={"reason": "bad_password"},
        )
        scene.at(DAY1 + 8 * h)
        emit(T.AUTH_LOGIN_FAILED, context=ANA, action="login", status="failed")
        scene.at(DAY1 + 8 * h + 1 * m)
        emit(
            T.AUTH_LOGIN_SUCCEEDED,
            context=ANA,
            action="login",
            status="succeeded",
            metadata={"method": "google"},
        )
        scene.at(DAY1 + 8 * h + 2 * m)
        emit(T.AUTH_LOGIN_SUCCEEDED, context=BEN, action="login", status="succeeded")
        scene.at(DAY1 + 9 * h, delay_seconds=30)
        emit(T.AUTH_LOGIN_SUCCEEDED, context=ANA, action="login", status="succeeded")
        scene.at(DAY2 + 8 * h)
        emit(T.AUTH_LOGIN_FAILED, context=EVE, action="login", status="failed")
        scene.at(DAY2 + 8 * h + 5 * m)
        emit(T.AUTH_LOGOUT, context=ANA, action="logout", status="succeeded")
        scene.at(DAY2 + 17 * h)
        # Profile and config changes, with before/after state.
        emit(
            T.USER_SETTINGS_UPDATED,
            context=ANA,
            action="update",
            status="succeeded",
            resource_type="user_settings",
            resource_id="u-ana",
            before={"theme": "light"},
            after={"theme": "dark", "language": "fr"},
        )
        scene.at(DAY1 + 10 * h)
        emit(
            T.CONFIG_PROMPT_UPDATED,
            context=BEN,
            action="update",
            status="succeeded",
            resource_type="prompt",
            resource_id="summary",
            after={"version": 7},
        )
        scene.at(DAY2 + 11 * h)
        # Ingest job j-1 on DAY1: two files indexed, one failed, with API and CPU usage.
        job = INGEST_JOB.replace(actor_uid="u-ana")
        emit(
            T.INGEST_JOB_STARTED,
            context=job,
            batch_id="j-1",
            job_id="j-1",
            mode="full",
            ingest_pipeline="v2",
            target_path="gs://bucket/a",
        )
        scene.at(DAY1 + 12 * h)
        emit(
            T.INGEST_FILE_INDEXED,
            context=job,
            batch_id="j-1",
            job_id="j-1",
            document_id="doc-1",
            drive_file_id="f-1",
            source_file="a.pdf",
            stage="index",
            ingest_status="indexed",
            chunk_count=12,
            elapsed_seconds=3.25,
            drive_modified_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
            is_reingest=False,
            tokens_total=1500,
            api_cost_usd=0.00031,
        )
        scene.at(DAY1 + 12 * h + 1 * m)
        emit(
            T.INGEST_FILE_INDEXED,
            context=job,
            batch_id="j-1",
            job_id="j-1",
            document_id="doc-2",
            source_file="b.pdf",
            chunk_count=4,
            elapsed_seconds=1.5,
            is_reingest=True,
            previous_ingested_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
        scene.at(DAY1 + 12 * h + 2 * m)
        emit(
            T.INGEST_FILE_FAILED,
            context=job,
            batch_id="j-1",
            job_id="j-1",
            document_id="doc-3",
            source_file="c.pptx",
            stage="parse",
            ingest_status="failed",
            error="unsupported format",
        )
        scene.at(DAY1 + 12 * h + 3 * m)
        emit_api_usage(
            context=job,
            correlation_id="j-1",
            correlation_type="ingest_job",
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-2.0-flash",
            category="vision",
            input_tokens=120_000,
            output_tokens=8_000,
            latency_ms=812.4,
        )
        scene.at(DAY1 + 12 * h + 4 * m)
        emit_api_usage(
            context=job,
            correlation_id="j-1",
            correlation_type="ingest_job",
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-2.5-flash-lite",
            category="tagging",
            input_tokens=30_000,
            output_tokens=2_500,
            tokens_estimated=True,
            latency_ms=95.6,
        )
        scene.at(DAY1 + 12 * h + 5 * m)
        emit_resource_usage(
            context=job,
            correlation_id="j-1",
            correlation_type="ingest_job",
            resource_type="cpu",
            quantity=142.5,
            unit="vCPU_second",
            metadata={"instance": "i-1"},
        )
        scene.at(DAY1 + 12 * h + 6 * m)
        emit(
            T.INGEST_JOB_COMPLETED,
            context=job,
            batch_id="j-1",
            job_id="j-1",
            mode="full",
            elapsed_seconds=420.5,
            files_completed=2,
            files_failed=1,
            chunks_written=16,
            gcs_bytes_staged=1_048_576,
            tokens_vision=128_000,
            tokens_tagging=32_500,
            tokens_total=160_500,
            api_cost_usd=0.0193,
            resource_cost_usd=0.00342,
            total_cost_usd=0.02272,
        )
        scene.at(DAY1 + 12 * h + 7 * m, delay_seconds=95)
        # Ingest job j-2 on DAY2: no costs passed; the usage items attached to the event price it.
        emit(T.INGEST_PREFLIGHT, context=job, batch_id="j-2", job_id="j-2", mode="delta")
        scene.at(DAY2 + 6 * h)
        emit(
            T.INGEST_JOB_COMPLETED,
            context=job,
            batch_id="j-2",
            job_id="j-2",
            mode="delta",
            files_completed=5,
            elapsed_seconds=61.0,
            usage=[
                {
                    "service": "vertex_gemini",
                    "model_id": "gemini-2.0-flash",
                    "category": "summary",
                    "input_tokens": 50_000,
                    "output_tokens": 1_000,
                },
                {
                    "service": "cloud_run",
                    "model_id": "cpu_second",
                    "quantity": 30.0,
                    "unit": "vCPU_second",
                },
            ],
        )
        scene.at(DAY2 + 6 * h + 2 * m, delay_seconds=4)
        emit_api_usage(
            context=job,
            correlation_id="j-2",
            correlation_type="ingest_job",
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-2.0-flash",
            category="summary",
            input_tokens=2_000,
            output_tokens=500,
        )
        scene.at(DAY2 + 6 * h + 3 * m)
        emit_api_usage(
            context=EVE,
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-9-experimental",
            category="chat",
            input_tokens=700,
            output_tokens=70,
            latency_ms=1500.0,
        )
        scene.at(DAY2 + 9 * h, delay_seconds=600)
        # Drive.
        emit(
            T.DRIVE_OAUTH_CONNECTED,
            context=ANA,
            action="connect",
            status="succeeded",
            event_category="oauth",
            google_email="ana@gmail.example",
        )
        scene.at(DAY1 + 11 * h)
        emit(
            T.DRIVE_SELECTION_CREATED,
            context=ANA,
            action="select",
            status="succeeded",
            event_category="selection",
            selection_id="sel-1",
            drive_file_id="f-1",
            file_name="a.pdf",
        )
        scene.at(DAY1 + 11 * h + 1 * m)
        # Browser beacons, as the beacon router emits them.
        for minute, (event_type, fields) in enumerate(
            [
                (
                    T.UI_TAB_VIEWED,
                    {
                        "surface": "main_nav",
                        "element_id": "tab-library",
                        "interaction": "view",
                        "resource_type": "nav_tab",
                        "resource_id": "tab-library",
                        "duration_ms": 5400,
                    },
                ),
                (
                    T.UI_TAB_VIEWED,
                    {
                        "surface": "main_nav",
                        "element_id": "tab-chat",
                        "interaction": "view",
                        "resource_type": "nav_tab",
                        "resource_id": "tab-chat",
                    },
                ),
                (
                    T.UI_TAB_VIEWED,
                    {
                        "surface": "settings",
                        "element_id": "tab-profile",
                        "interaction": "click",
                        "resource_type": "nav_tab",
                        "resource_id": "tab-profile",
                    },
                ),
                (
                    T.UI_DRIVE_SEARCH,
                    {
                        "surface": "drive_picker",
                        "element_id": "search-box",
                        "interaction": "search",
                        "result_count": 7,
                        "duration_ms": 320,
                    },
                ),
                (
                    T.UI_CONSENT_SUBMITTED,
                    {"surface": "consent_modal", "element_id": "accept", "interaction": "click"},
                ),
            ]
        ):
            interaction = fields["interaction"]
            emit(
                event_type,
                context=BEN_BROWSER,
                action=interaction,
                status="succeeded",
                metadata={"client_ts": f"2026-11-23T14:0{minute}:00Z"},
                page_path="/app",
                user_agent="Mozilla/5.0 (test)",
                **fields,
            )
            scene.at(DAY1 + 14 * h + minute * m, delay_seconds=1 + minute)
        _chat(scene)
    for line, when in (
        (b'{"event_id": "broken', DAY1 + 12 * timedelta(hours=1)),
        (
            b'{"event_type": "no.such.type", "event_id": "x-1", "app": "ingest", '
            b'"occurred_at": "2026-11-23T12:00:00Z"}',
            DAY1 + 12 * timedelta(hours=1),
        ),
        (
            b'{"event_type": "auth.logout", "event_id": "x-2", "app": "ingest", '
            b'"occurred_at": "2026-11-24T06:00:00Z", "status": 5}',
            DAY2 + 3 * timedelta(hours=1),
        ),
    ):
        workload.rejected.append((line, when))
    return workload


def _chat(scene: _Scenario) -> None:
    """Chat on DAY2: conversation conv-1 (started, a turn of four model calls at two tiers,
    its model-call text, a failed turn, ended), and a lone turn of conversation conv-2
    without usage. Plain emit() calls carrying what emit_chat_turn / emit_chat_session send.
    """
    h = timedelta(hours=1)
    m = timedelta(minutes=1)
    emit(
        T.CHAT_SESSION_STARTED,
        context=CHAT,
        status="succeeded",
        started_at="2026-11-24T09:59:30Z",
        visit_session_id="visit-1",
        turn_count=0,
    )
    scene.at(DAY2 + 10 * h)
    emit(
        T.CHAT_TURN_SUCCEEDED,
        context=CHAT,
        event_id="turn-1",
        status="succeeded",
        metadata={"client": "web"},
        turn_index=0,
        history_turn_count=0,
        question=QUESTION,
        question_sha256=hashlib.sha256(QUESTION.encode()).hexdigest(),
        question_length=len(QUESTION),
        response_type="answer",
        workflow="qa",
        include_hidden_slides=False,
        attached_source_count=0,
        used_attached_only=False,
        retrieval_query="reset password",
        retrieval_hit_count=5,
        no_docs=False,
        latency_ms=2350,
        time_to_first_token_ms=640,
        latency_ms_retrieval=310,
        latency_ms_llm=1900,
        llm_model="gemini-2.5-flash-lite",
        input_tokens=15_040,
        output_tokens=1_000,
        sources=[{"drive_file_id": "f-1", "source_file": "a.pdf"}, {"drive_file_id": "f-2"}],
        visit_session_id="visit-1",
        user_message_count=1,
        assistant_message_count=1,
        message_count=2,
        usage=[
            {
                "service": "vertex_gemini",
                "operation": "generate_content",
                "model_id": "gemini-2.5-flash-lite",
                "category": "answer",
                "input_tokens": 12_000,
                "output_tokens": 800,
                "latency_ms": 1500.4,
                "pricing_tier": "standard",
            },
            {
                "service": "vertex_gemini",
                "operation": "generate_content",
                "model_id": "gemini-2.0-flash",
                "category": "contextualizer",
                "input_tokens": 3_000,
                "output_tokens": 200,
                "latency_ms": 399.6,
                "pricing_tier": "batch",
            },
            {
                "service": "vertex_embedding",
                "operation": "embed_content",
                "model_id": "gemini-embedding-001",
                "category": "embedding",
                "input_tokens": 40,
                "tokens_estimated": True,
                "pricing_tier": "batch",
            },
            {
                "service": "vertex_rerank",
                "operation": "semantic_ranker",
                "model_id": "semantic-ranker-default",
                "category": "rerank",
                "quantity": 1.0,
                "unit": "query",
                "latency_ms": 85.0,
                "pricing_tier": "standard",
            },
        ],
    )
    scene.at(DAY2 + 10 * h + 1 * m)
    emit(
        T.CHAT_MODEL_CALL_TEXT,
        context=CHAT,
        event_id="call-1",
        correlation_id="turn-1",
        correlation_type="chat_turn",
        sequence=1,
        category="answer",
        operation="generate_content",
        model_id="gemini-2.5-flash-lite",
        attempt=1,
        succeeded=True,
        prompt_source="file:qa.txt",
        temperature=0.2,
        thinking_level="low",
        thought_tokens=120,
        cached_tokens=0,
        finish_reason="STOP",
        prompt=f"Answer from the sources.\n{QUESTION}",
        completion="Open Settings, then Security.",
        prompt_truncated=False,
        completion_truncated=False,
    )
    scene.at(DAY2 + 10 * h + 1 * m, delay_seconds=3)
    emit(
        T.CHAT_TURN_FAILED,
        context=CHAT,
        event_id="turn-2",
        status="failed",
        turn_index=1,
        history_turn_count=1,
        question_hmac="9f" * 32,
        question_length=31,
        response_type="answer",
        summary_scope="document",
        workflow="summary",
        latency_ms=30_000,
        model_calls=1,
        error_class="TimeoutError",
        visit_session_id="visit-1",
        user_message_count=2,
        assistant_message_count=1,
        message_count=3,
        usage=[
            {
                "service": "vertex_gemini",
                "operation": "generate_content",
                "model_id": "gemini-9-experimental",
                "category": "summary",
                "input_tokens": 500,
                "latency_ms": 30_000.0,
            }
        ],
    )
    scene.at(DAY2 + 10 * h + 5 * m)
    emit(
        T.CHAT_SESSION_ENDED,
        context=CHAT,
        status="succeeded",
        turn_count=2,
        ended_reason="new_chat",
        user_message_count=2,
        assistant_message_count=1,
        message_count=3,
    )
    scene.at(DAY2 + 10 * h + 20 * m)
    emit(
        T.CHAT_TURN_SUCCEEDED,
        context=CHAT.replace(session_id="conv-2", actor_uid=None, app_version=None),
        event_id="turn-3",
        status="succeeded",
        turn_index=0,
        conversation_id="conversation-2",
        latency_ms=812.5,
        input_tokens=100,
        output_tokens=20,
        sources=[],
        sources_returned_count=0,
        no_docs=True,
    )
    scene.at(DAY2 + 15 * h)


class DuckDBWarehouse:
    """The workload in an embedded DuckDB file, created by the DuckDB sink (views included)."""

    name = "duckdb"

    def __init__(self, path: Path, workload: Workload) -> None:
        sink = DuckDBSink(path, hold_seconds=0)
        try:
            sink.upsert_cost_rates([rate.to_row() for rate in TABLE_RATES])
            assert sink.write_events(workload.rows()) == {}
            sink.write_dead_letters(workload.dead_letter_rows())
        finally:
            sink.close()
        self.path = path

    def _execute(self, sql: str) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(str(self.path), read_only=True)
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(for_duckdb(sql.replace("{ds}", "`il-audit-test.compat`")))

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a BigQuery-dialect query, as dicts."""
        cursor = self._execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """(name, BigQuery type) of a relation's output columns."""
        cursor = self._execute(f"SELECT * FROM {{ds}}.{relation} LIMIT 0")
        return [(column[0], bigquery_type(str(column[1]))) for column in cursor.description]


class BigQueryWarehouse:
    """The workload in a fresh dataset of the BigQuery stand-in, views created by infra apply."""

    name = "bigquery"

    def __init__(self, url: str, project: str, workload: Workload) -> None:
        self.client = bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": url},
        )
        self.dataset = f"compat_{uuid.uuid4().hex[:10]}"
        sink = BigQuerySink(self.client, self.dataset, retry_deadline=5.0, timeout=10.0)
        sink.upsert_cost_rates([rate.to_row() for rate in TABLE_RATES])
        assert sink.write_events(workload.rows()) == {}
        sink.write_dead_letters(workload.dead_letter_rows())
        settings = make_settings(project=project, dataset=self.dataset, bq_api_endpoint=url)
        provisioner = BigQueryProvisioner(self.client, self.dataset, None)
        apply_warehouse(provisioner, settings, dry_run=False, record=lambda _change: None)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a BigQuery query, as dicts."""
        qualified = sql.replace("{ds}", f"`{self.client.project}.{self.dataset}`")
        return [dict(row.items()) for row in self.client.query(qualified).result(timeout=60)]

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """(name, BigQuery type) of a relation's output columns (from a query's result schema)."""
        qualified = f"SELECT * FROM `{self.client.project}.{self.dataset}.{relation}` LIMIT 0"
        result = self.client.query(qualified).result(timeout=60)
        return [(item.name, bigquery_type(item.field_type)) for item in result.schema]

    def close(self) -> None:
        """Drop the dataset (the stand-in snapshots tables on insert: keep it small)."""
        self.client.delete_dataset(self.dataset, delete_contents=True, not_found_ok=True)
        self.client.close()  # type: ignore[no-untyped-call]


_TYPE_NAMES = {
    # DuckDB
    "VARCHAR": "STRING",
    "BIGINT": "INT64",
    "DOUBLE": "FLOAT64",
    "BOOLEAN": "BOOL",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "DATE": "DATE",
    "DECIMAL(38,9)": "NUMERIC",
    "JSON": "JSON",
    # BigQuery's legacy names, which the REST API answers with
    "STRING": "STRING",
    "INTEGER": "INT64",
    "INT64": "INT64",
    "FLOAT": "FLOAT64",
    "FLOAT64": "FLOAT64",
    "BOOL": "BOOL",
    "TIMESTAMP": "TIMESTAMP",
    "NUMERIC": "NUMERIC",
}


def bigquery_type(name: str) -> str:
    """The BigQuery type of an output column; unknown types stay as they are (and differ)."""
    return _TYPE_NAMES.get(name.upper(), f"<{name}>")


def by(rows: Sequence[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """``rows`` sorted by ``keys`` (None first), so both engines compare in one order."""
    return sorted(rows, key=lambda row: tuple((row[k] is not None, row[k]) for k in keys))
