"""The view tests' workload: two days of an ingest app, a chat app and a browser, as data.

Logins, profile and config changes, two ingest jobs with API and CPU usage, drive
events, browser beacons and a chat conversation; three lines the subscriber must
reject. Tests compute what the views should say from the played
:class:`~tests.support.scenario.Workload` and the constants here and in
``tests/support/seed_prices.py``, never from the warehouse.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T
from il_audit.subscriber_fn.pricing import Rate
from tests.support.scenario import Step, Workload, api_usage, event, play, resource_usage

DAY1 = datetime(2026, 11, 23, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)

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
JOB = INGEST_JOB.replace(actor_uid="u-ana")
"""The ingest jobs' context (ana started them)."""

H, M = timedelta(hours=1), timedelta(minutes=1)
J1 = {"batch_id": "j-1", "job_id": "j-1"}
USAGE_J1 = {"correlation_id": "j-1", "correlation_type": "ingest_job"}
GENERATE = {"service": "vertex_gemini", "operation": "generate_content"}

LOGINS = (
    # ana fails twice then succeeds on DAY1; eve (email only) fails on DAY2.
    event(DAY1 + 8 * H, T.AUTH_LOGIN_FAILED, ANA, action="login", status="failed",
          metadata={"reason": "bad_password"}),
    event(DAY1 + 8 * H + 1 * M, T.AUTH_LOGIN_FAILED, ANA, action="login", status="failed"),
    event(DAY1 + 8 * H + 2 * M, T.AUTH_LOGIN_SUCCEEDED, ANA, action="login", status="succeeded",
          metadata={"method": "google"}),
    event(DAY1 + 9 * H, T.AUTH_LOGIN_SUCCEEDED, BEN, ingested_after=30, action="login",
          status="succeeded"),
    event(DAY2 + 8 * H, T.AUTH_LOGIN_SUCCEEDED, ANA, action="login", status="succeeded"),
    event(DAY2 + 8 * H + 5 * M, T.AUTH_LOGIN_FAILED, EVE, action="login", status="failed"),
    event(DAY2 + 17 * H, T.AUTH_LOGOUT, ANA, action="logout", status="succeeded"),
)  # fmt: skip

CHANGES = (
    # Profile and config changes, with before/after state.
    event(DAY1 + 10 * H, T.USER_SETTINGS_UPDATED, ANA, action="update", status="succeeded",
          resource_type="user_settings", resource_id="u-ana", before={"theme": "light"},
          after={"theme": "dark", "language": "fr"}),
    event(DAY2 + 11 * H, T.CONFIG_PROMPT_UPDATED, BEN, action="update", status="succeeded",
          resource_type="prompt", resource_id="summary", after={"version": 7}),
)  # fmt: skip

INGEST = (
    # Job j-1 on DAY1: two files indexed, one failed, with API and CPU usage.
    event(DAY1 + 12 * H, T.INGEST_JOB_STARTED, JOB, **J1, mode="full", ingest_pipeline="v2",
          target_path="gs://bucket/a"),
    event(DAY1 + 12 * H + 1 * M, T.INGEST_FILE_INDEXED, JOB, **J1, document_id="doc-1",
          drive_file_id="f-1", source_file="a.pdf", stage="index", ingest_status="indexed",
          chunk_count=12, elapsed_seconds=3.25,
          drive_modified_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC), is_reingest=False,
          tokens_total=1500, api_cost_usd=0.00031),
    event(DAY1 + 12 * H + 2 * M, T.INGEST_FILE_INDEXED, JOB, **J1, document_id="doc-2",
          source_file="b.pdf", chunk_count=4, elapsed_seconds=1.5, is_reingest=True,
          previous_ingested_at=datetime(2026, 10, 1, tzinfo=UTC)),
    event(DAY1 + 12 * H + 3 * M, T.INGEST_FILE_FAILED, JOB, **J1, document_id="doc-3",
          source_file="c.pptx", stage="parse", ingest_status="failed",
          error="unsupported format"),
    api_usage(DAY1 + 12 * H + 4 * M, JOB, **USAGE_J1, **GENERATE, model_id="gemini-2.0-flash",
              category="vision", input_tokens=120_000, output_tokens=8_000, latency_ms=812.4),
    api_usage(DAY1 + 12 * H + 5 * M, JOB, **USAGE_J1, **GENERATE,
              model_id="gemini-2.5-flash-lite", category="tagging", input_tokens=30_000,
              output_tokens=2_500, tokens_estimated=True, latency_ms=95.6),
    resource_usage(DAY1 + 12 * H + 6 * M, JOB, **USAGE_J1, resource_type="cpu", quantity=142.5,
                   unit="vCPU_second", metadata={"instance": "i-1"}),
    event(DAY1 + 12 * H + 7 * M, T.INGEST_JOB_COMPLETED, JOB, ingested_after=95, **J1,
          mode="full", elapsed_seconds=420.5, files_completed=2, files_failed=1,
          chunks_written=16, gcs_bytes_staged=1_048_576, tokens_vision=128_000,
          tokens_tagging=32_500, tokens_total=160_500, api_cost_usd=0.0193,
          resource_cost_usd=0.00342, total_cost_usd=0.02272),
    # Job j-2 on DAY2: no costs passed; the usage items attached to the event price it.
    event(DAY2 + 6 * H, T.INGEST_PREFLIGHT, JOB, batch_id="j-2", job_id="j-2", mode="delta"),
    event(DAY2 + 6 * H + 2 * M, T.INGEST_JOB_COMPLETED, JOB, ingested_after=4, batch_id="j-2",
          job_id="j-2", mode="delta", files_completed=5, elapsed_seconds=61.0,
          usage=[{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                  "category": "summary", "input_tokens": 50_000, "output_tokens": 1_000},
                 {"service": "cloud_run", "model_id": "cpu_second", "quantity": 30.0,
                  "unit": "vCPU_second"}]),
    api_usage(DAY2 + 6 * H + 3 * M, JOB, correlation_id="j-2", correlation_type="ingest_job",
              **GENERATE, model_id="gemini-2.0-flash", category="summary", input_tokens=2_000,
              output_tokens=500),
    api_usage(DAY2 + 9 * H, EVE, ingested_after=600, **GENERATE,
              model_id="gemini-9-experimental", category="chat", input_tokens=700,
              output_tokens=70, latency_ms=1500.0),
)  # fmt: skip

DRIVE = (
    event(DAY1 + 11 * H, T.DRIVE_OAUTH_CONNECTED, ANA, action="connect", status="succeeded",
          event_category="oauth", google_email="ana@gmail.example"),
    event(DAY1 + 11 * H + 1 * M, T.DRIVE_SELECTION_CREATED, ANA, action="select",
          status="succeeded", event_category="selection", selection_id="sel-1",
          drive_file_id="f-1", file_name="a.pdf"),
)  # fmt: skip

_BEACON_ITEMS: tuple[tuple[str, dict[str, Any]], ...] = (
    (T.UI_TAB_VIEWED, {"surface": "main_nav", "element_id": "tab-library",
                       "interaction": "view", "resource_type": "nav_tab",
                       "resource_id": "tab-library", "duration_ms": 5400}),
    (T.UI_TAB_VIEWED, {"surface": "main_nav", "element_id": "tab-chat", "interaction": "view",
                       "resource_type": "nav_tab", "resource_id": "tab-chat"}),
    (T.UI_TAB_VIEWED, {"surface": "settings", "element_id": "tab-profile",
                       "interaction": "click", "resource_type": "nav_tab",
                       "resource_id": "tab-profile"}),
    (T.UI_DRIVE_SEARCH, {"surface": "drive_picker", "element_id": "search-box",
                         "interaction": "search", "result_count": 7, "duration_ms": 320}),
    (T.UI_CONSENT_SUBMITTED, {"surface": "consent_modal", "element_id": "accept",
                              "interaction": "click"}),
)  # fmt: skip
BEACONS = tuple(
    # Browser beacons on DAY1, a minute apart, as the beacon router emits them.
    event(DAY1 + 14 * H + minute * M, event_type, BEN_BROWSER, ingested_after=1 + minute,
          action=fields["interaction"], status="succeeded",
          metadata={"client_ts": f"2026-11-23T14:0{minute}:00Z"}, page_path="/app",
          user_agent="Mozilla/5.0 (test)", **fields)
    for minute, (event_type, fields) in enumerate(_BEACON_ITEMS)
)  # fmt: skip

_TURN_1_USAGE = [
    # four model calls at two tiers
    {"service": "vertex_gemini", "operation": "generate_content",
     "model_id": "gemini-2.5-flash-lite", "category": "answer", "input_tokens": 12_000,
     "output_tokens": 800, "latency_ms": 1500.4, "pricing_tier": "standard"},
    {"service": "vertex_gemini", "operation": "generate_content",
     "model_id": "gemini-2.0-flash", "category": "contextualizer", "input_tokens": 3_000,
     "output_tokens": 200, "latency_ms": 399.6, "pricing_tier": "batch"},
    {"service": "vertex_embedding", "operation": "embed_content",
     "model_id": "gemini-embedding-001", "category": "embedding", "input_tokens": 40,
     "tokens_estimated": True, "pricing_tier": "batch"},
    {"service": "vertex_rerank", "operation": "semantic_ranker",
     "model_id": "semantic-ranker-default", "category": "rerank", "quantity": 1.0,
     "unit": "query", "latency_ms": 85.0, "pricing_tier": "standard"},
]  # fmt: skip
CHAT_STEPS = (
    # DAY2: conversation conv-1 (started, a turn of four model calls, its model-call text, a
    # failed turn, ended), and a lone turn of conversation conv-2 without usage. Plain emit()
    # calls carrying what emit_chat_turn / emit_chat_session send.
    event(DAY2 + 10 * H, T.CHAT_SESSION_STARTED, CHAT, status="succeeded",
          started_at="2026-11-24T09:59:30Z", visit_session_id="visit-1", turn_count=0),
    event(DAY2 + 10 * H + 1 * M, T.CHAT_TURN_SUCCEEDED, CHAT, event_id="turn-1",
          status="succeeded", metadata={"client": "web"}, turn_index=0, history_turn_count=0,
          question=QUESTION, question_sha256=hashlib.sha256(QUESTION.encode()).hexdigest(),
          question_length=len(QUESTION), response_type="answer", workflow="qa",
          include_hidden_slides=False, attached_source_count=0, used_attached_only=False,
          retrieval_query="reset password", retrieval_hit_count=5, no_docs=False,
          latency_ms=2350, time_to_first_token_ms=640, latency_ms_retrieval=310,
          latency_ms_llm=1900, llm_model="gemini-2.5-flash-lite", input_tokens=15_040,
          output_tokens=1_000,
          sources=[{"drive_file_id": "f-1", "source_file": "a.pdf"}, {"drive_file_id": "f-2"}],
          visit_session_id="visit-1", user_message_count=1, assistant_message_count=1,
          message_count=2, usage=_TURN_1_USAGE),
    event(DAY2 + 10 * H + 1 * M, T.CHAT_MODEL_CALL_TEXT, CHAT, ingested_after=3,
          event_id="call-1", correlation_id="turn-1", correlation_type="chat_turn", sequence=1,
          category="answer", operation="generate_content", model_id="gemini-2.5-flash-lite",
          attempt=1, succeeded=True, prompt_source="file:qa.txt", temperature=0.2,
          thinking_level="low", thought_tokens=120, cached_tokens=0, finish_reason="STOP",
          prompt=f"Answer from the sources.\n{QUESTION}",
          completion="Open Settings, then Security.", prompt_truncated=False,
          completion_truncated=False),
    event(DAY2 + 10 * H + 5 * M, T.CHAT_TURN_FAILED, CHAT, event_id="turn-2", status="failed",
          turn_index=1, history_turn_count=1, question_hmac="9f" * 32, question_length=31,
          response_type="answer", summary_scope="document", workflow="summary",
          latency_ms=30_000, model_calls=1, error_class="TimeoutError",
          visit_session_id="visit-1", user_message_count=2, assistant_message_count=1,
          message_count=3,
          usage=[{"service": "vertex_gemini", "operation": "generate_content",
                  "model_id": "gemini-9-experimental", "category": "summary",
                  "input_tokens": 500, "latency_ms": 30_000.0}]),
    event(DAY2 + 10 * H + 20 * M, T.CHAT_SESSION_ENDED, CHAT, status="succeeded", turn_count=2,
          ended_reason="new_chat", user_message_count=2, assistant_message_count=1,
          message_count=3),
    event(DAY2 + 15 * H, T.CHAT_TURN_SUCCEEDED,
          CHAT.replace(session_id="conv-2", actor_uid=None, app_version=None),
          event_id="turn-3", status="succeeded", turn_index=0, conversation_id="conversation-2",
          latency_ms=812.5, input_tokens=100, output_tokens=20, sources=[],
          sources_returned_count=0, no_docs=True),
)  # fmt: skip

STEPS: tuple[Step, ...] = (*LOGINS, *CHANGES, *INGEST, *DRIVE, *BEACONS, *CHAT_STEPS)
"""The whole scenario, in emit order."""

REJECTED: tuple[tuple[bytes, datetime], ...] = (
    (b'{"event_id": "broken', DAY1 + 12 * H),
    (b'{"event_type": "no.such.type", "event_id": "x-1", "app": "ingest", '
     b'"occurred_at": "2026-11-23T12:00:00Z"}', DAY1 + 12 * H),
    (b'{"event_type": "auth.logout", "event_id": "x-2", "app": "ingest", '
     b'"occurred_at": "2026-11-24T06:00:00Z", "status": 5}', DAY2 + 3 * H),
)  # fmt: skip
"""Lines the subscriber must reject, with when it did."""


def build_workload() -> Workload:
    """The scenario played through the real API."""
    return play(STEPS, REJECTED)
