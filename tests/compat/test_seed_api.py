"""A host written for il-audit 0.1.3 runs unchanged: every implemented name and shim, called
with 0.1.3's keywords, does what the migration table says; every dropped name is in the table.

Names, signatures and values come from the facts sheet of 0.1.3
(`reference-api-facts.md` §1 to §2).
"""

from __future__ import annotations

import importlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import il_audit
from il_audit.publisher.testing import CapturedEvents, capture_events
from il_audit.schemas.envelope import Envelope

MIGRATING = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"
ROOT_ALL_0_1_3 = [
    "AuditContext",
    "AuditSettings",
    "emit",
    "emit_api_usage",
    "emit_batch",
    "emit_resource_usage",
    "flush_audit_writer",
    "get_audit_settings",
    "register_builder",
    "reset_audit_settings_cache",
    "schedule_beacon_rows",
]
DROPPED = {
    "il_audit.registry": ["resolve_table_id", "build_row"],
    "il_audit.writer": [
        "append_log_table_rows",
        "WriteResult",
        "reset_writer_state_for_tests",
    ],
    "il_audit.bq_client": [
        "get_bigquery_client",
        "run_bigquery_query",
        "write_bigquery_rows",
        "BigQueryTableManager",
        "WRITE_APPEND",
    ],
    "il_audit.config.cost_rates_loader": [
        "RateEntry",
        "LoadedCostRates",
        "load_audit_defaults",
        "load_seed_cost_rates",
        "load_bigquery_cost_rates",
        "get_active_cost_rates",
        "reset_cost_rates_cache",
        "fallback_path",
    ],
}


def only(events: CapturedEvents) -> Envelope:
    assert len(events) == 1, events.event_types
    return events[0]


def migration_table() -> str:
    text = MIGRATING.read_text("utf-8")
    start = text.index("# Coming from il-audit 0.1.3")
    return text[start : text.index("## The 0.1.3 tables, as views")]


def test_every_0_1_3_root_name_is_importable() -> None:
    """0.1.3's `il_audit.__all__` names and `il_audit.taxonomy` import from the root."""
    for name in [*ROOT_ALL_0_1_3, "taxonomy"]:
        assert getattr(il_audit, name) is not None, name
    from il_audit import taxonomy

    assert taxonomy.AUTH_LOGIN_SUCCEEDED == "auth.login.succeeded"


def test_taxonomy_is_one_module_under_both_paths() -> None:
    """`import il_audit.taxonomy` is the same module object as il_audit.schemas.taxonomy."""
    import il_audit.schemas.taxonomy as ours
    import il_audit.taxonomy as seed

    assert seed is ours
    # 1.0.35's 28 and ours, ui.chat.feedback (issue 22; docs/migrating.md)
    assert len(seed.BEACON_EVENT_TYPES) == 29
    assert seed.BEACON_EVENT_TYPES - {seed.UI_CHAT_FEEDBACK} >= {seed.UI_CHAT_FEEDBACK_SUBMITTED}
    assert seed.UI_CHAT_NEW_CHAT == "ui.chat.new_chat.clicked"


def test_emit_with_the_0_1_3_keywords() -> None:
    """emit(event_type, *, context, metadata, **domain_fields): metadata and payload land."""
    ctx = il_audit.AuditContext("ingest", "u-1", "a@example.com", "t-1", "r-1", "job")
    with capture_events() as events:
        il_audit.emit(
            il_audit.taxonomy.INGEST_JOB_COMPLETED,
            context=ctx,
            metadata={"k": "v"},
            job_id="j-1",
            files_completed=3,
        )
    event = only(events)
    assert (event.app, event.actor_uid, event.trace_id, event.request_id, event.source) == (
        "ingest", "u-1", "t-1", "r-1", "job"
    )  # fmt: skip
    assert event.metadata == {"k": "v"}
    assert event.payload == {"job_id": "j-1", "files_completed": 3}
    assert event.module == "ingest"


def test_source_accepts_0_1_3s_free_text() -> None:
    """AuditContext.source was a str in 0.1.3 ('pipeline' is a real one)."""
    with capture_events() as events:
        il_audit.emit(
            il_audit.taxonomy.AUTH_LOGOUT, context=il_audit.AuditContext("a", source="pipeline")
        )
    assert only(events).source == "pipeline"


def test_app_version_travels_on_the_envelope() -> None:
    """1.0.35's AuditContext.app_version reaches the event."""
    with capture_events() as events:
        il_audit.emit(
            il_audit.taxonomy.AUTH_LOGOUT, context=il_audit.AuditContext("a", app_version="2.1")
        )
    assert only(events).app_version == "2.1"


def test_emit_api_usage_with_the_0_1_3_keywords() -> None:
    """Every 0.1.3 keyword is accepted; negative tokens clamp to 0, as in 0.1.3."""
    with capture_events() as events:
        il_audit.emit_api_usage(
            context=il_audit.AuditContext("ingest"),
            correlation_id="job-1",
            correlation_type="ingest_job",
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-2.0-flash",
            category="vision",
            input_tokens=1000,
            output_tokens=-5,
            tokens_estimated=True,
            latency_ms=120,
        )
    event = only(events)
    (item,) = event.usage
    assert (item.service, item.model_id, item.category) == (
        "vertex_gemini",
        "gemini-2.0-flash",
        "vision",
    )
    assert (item.input_tokens, item.output_tokens, item.tokens_estimated) == (1000, 0, True)
    assert (event.correlation_id, event.correlation_type) == ("job-1", "ingest_job")


def test_emit_resource_usage_with_the_0_1_3_keywords() -> None:
    """The 0.1.3 defaults (cloud_run / cpu_second) select the unit price."""
    with capture_events() as events:
        il_audit.emit_resource_usage(
            context=il_audit.AuditContext("ingest"),
            correlation_id=None,
            correlation_type=None,
            resource_type="cloud_run_cpu_seconds",
            quantity=142.5,
            unit="vCPU_second",
            metadata={"job": "j"},
        )
    event = only(events)
    (item,) = event.usage
    assert (item.service, item.model_id, item.quantity) == ("cloud_run", "cpu_second", 142.5)
    assert event.metadata == {"job": "j"}


def test_emit_batch_takes_0_1_3_tuples() -> None:
    """Each item is (event_type, context, metadata, domain_fields)."""
    ctx = il_audit.AuditContext("ingest")
    with capture_events() as events:
        ids = il_audit.emit_batch(
            [
                (il_audit.taxonomy.AUTH_LOGOUT, ctx, None, {}),
                (il_audit.taxonomy.INGEST_FILE_INDEXED, ctx, {"m": 1}, {"document_id": "d"}),
            ]
        )
    assert len(ids) == 2
    assert events.event_types == ["auth.logout", "ingest.file.indexed"]
    assert events[1].payload == {"document_id": "d"}


def test_flush_audit_writer_takes_timeout_seconds() -> None:
    """0.1.3 called it with timeout_seconds= and got an int; ours is an int, 0 when idle."""
    result = il_audit.flush_audit_writer(timeout_seconds=2.0)
    assert isinstance(result, int)
    assert result == 0
    assert result.complete


def test_audit_context_imports_from_its_0_1_3_module() -> None:
    """`from il_audit.context import AuditContext` is 0.1.3's and 1.0.35's path to the class."""
    from il_audit.context import AuditContext

    assert AuditContext is il_audit.AuditContext
    assert AuditContext("ingest", "u-1").actor_uid == "u-1"


def test_settings_answer_0_1_3_attribute_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """bq_project... flush_interval_seconds; the flush variables map onto packing and linger."""
    from il_audit.config.audit_settings import (
        DEFAULT_BQ_DATASET_LOCATION,
        AuditSettings,
        get_audit_settings,
        reset_audit_settings_cache,
    )

    monkeypatch.setenv("IL_BQ_LOGS_PROJECT", "proj")
    monkeypatch.setenv("IL_AUDIT_FLUSH_BATCH_SIZE", "25")
    monkeypatch.setenv("IL_AUDIT_FLUSH_INTERVAL_SECONDS", "0.5")
    reset_audit_settings_cache()
    settings = get_audit_settings()
    assert isinstance(settings, AuditSettings)
    assert settings is il_audit.get_audit_settings()
    assert (settings.bq_project, settings.bq_dataset) == ("proj", "intelligence_layer_logs")
    assert settings.bq_dataset_location == DEFAULT_BQ_DATASET_LOCATION == "europe-west1"
    assert settings.enable_audit_logs is True
    assert (settings.flush_batch_size, settings.max_events_per_message) == (25, 25)
    assert (settings.flush_interval_seconds, settings.max_latency_ms) == (0.5, 500.0)


def test_question_sha256_matches_the_0_1_3_vector() -> None:
    """'hello' hashes to 0.1.3's test vector, from both paths."""
    from il_audit.emit import question_sha256

    vector = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert question_sha256("hello") == il_audit.question_sha256("hello") == vector


def test_importing_the_emit_module_keeps_emit_the_function() -> None:
    """`import il_audit.emit` (0.1.3's module) does not replace il_audit.emit (the function)."""
    import sys

    from il_audit.emit import emit as from_module
    from il_audit.publisher import emit

    assert il_audit.emit is emit
    assert from_module is emit
    assert sys.modules["il_audit.emit"].question_sha256 is il_audit.question_sha256


def test_schedule_beacon_rows_keeps_0_1_3_semantics() -> None:
    """Unknown types are skipped and not counted; legacy tab beacons are rewritten."""
    from il_audit.emit import schedule_beacon_rows

    ctx = il_audit.AuditContext("ingest", actor_uid="u", source="beacon")
    with capture_events() as events:
        accepted = schedule_beacon_rows(
            context=ctx,
            events=[
                {"resource_type": "tab", "resource_id": "library"},
                {"event_type": "auth.logout"},
                {"event_type": "ui.drive.search", "result_count": 4, "client_ts": "t0"},
            ],
        )
    assert accepted == 2
    assert events.event_types == ["ui.tab.viewed", "ui.drive.search"]
    tab = events[0]
    assert (tab.resource_type, tab.resource_id, tab.action) == ("nav_tab", "library", "view")
    assert tab.payload is not None
    assert tab.payload["surface"] == "main_nav"
    assert events[1].metadata == {"client_ts": "t0"}


def test_a_registered_builder_shapes_the_event() -> None:
    """The builder's 0.1.3 row becomes the envelope: logged_at, *_json and extra columns."""
    from il_audit.builders.envelope_builder import build_envelope_row
    from il_audit.registry import get_builder, register_builder

    def builder(*, context: Any, event_type: str, metadata: Any, **fields: Any) -> dict[str, Any]:
        row = build_envelope_row(context=context, event_type=event_type, metadata=metadata,
                                 action="edit", before={"a": 1}, **fields)  # fmt: skip
        row["logged_at"] = "2026-07-01T12:00:00+00:00"
        row["prompt_name"] = fields["name"].upper()
        return row

    register_builder(il_audit.taxonomy.CONFIG_PROMPT_UPDATED, builder)
    assert get_builder(il_audit.taxonomy.CONFIG_PROMPT_UPDATED) is builder
    with capture_events() as events:
        il_audit.emit(
            il_audit.taxonomy.CONFIG_PROMPT_UPDATED,
            context=il_audit.AuditContext("chat", actor_uid="u-1"),
            metadata={"why": "typo"},
            name="greeting",
        )
    event = only(events)
    assert event.occurred_at == datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert (event.action, event.before, event.metadata) == ("edit", {"a": 1}, {"why": "typo"})
    assert event.payload is not None
    assert (event.payload["prompt_name"], event.payload["name"]) == ("GREETING", "greeting")
    assert event.module == "config"


def test_a_builder_that_raises_never_reaches_the_app() -> None:
    """The event counts as invalid, with its raw fields kept for dead-lettering."""

    def broken(**_: Any) -> dict[str, Any]:
        raise ValueError("host bug")

    il_audit.register_builder(il_audit.taxonomy.USER_SETTINGS_UPDATED, broken)
    with capture_events(strict=False) as events:
        event_id = il_audit.emit(
            il_audit.taxonomy.USER_SETTINGS_UPDATED,
            context=il_audit.AuditContext("chat"),
            theme="dark",
        )
    assert event_id is not None
    assert list(events) == []
    (problem,) = events.invalid
    assert "ValueError" in str(problem)


def test_build_envelope_gives_a_0_1_3_row() -> None:
    """The 18 envelope columns, JSON as text, a fresh uuid and an ISO logged_at."""
    from il_audit.envelope import build_envelope, utc_now_iso

    row = build_envelope(
        context=il_audit.AuditContext("ingest", "u"),
        module="ingest",
        event_type="ingest.job.started",
        metadata={"é": 1},
    )
    assert list(row)[:3] == ["event_id", "batch_id", "logged_at"]
    assert len(row) == 18
    assert row["metadata_json"] == json.dumps({"é": 1}, ensure_ascii=False)
    assert row["before_json"] is None
    assert datetime.fromisoformat(utc_now_iso()).tzinfo is not None


def test_cost_catalog_holds_every_0_1_3_constant() -> None:
    """Services, operations, categories, correlations, resources, rate keys, sources."""
    from il_audit.config import cost_catalog as C

    expected = {
        "SERVICE_VERTEX_GEMINI": "vertex_gemini", "SERVICE_VERTEX_EMBEDDING": "vertex_embedding",
        "SERVICE_VERTEX_RERANK": "vertex_rerank", "SERVICE_DRIVE_API": "drive_api",
        "SERVICE_CLOUD_RUN": "cloud_run", "SERVICE_GCS": "gcs",
        "OPERATION_GENERATE_CONTENT": "generate_content",
        "OPERATION_EMBED_CONTENT": "embed_content",
        "OPERATION_SEMANTIC_RANKER": "semantic_ranker", "OPERATION_FILES_GET": "files.get",
        "API_CATEGORY_VISION": "vision", "API_CATEGORY_TAGGING": "tagging",
        "API_CATEGORY_SUMMARY": "summary", "API_CATEGORY_EMBEDDING": "embedding",
        "CORRELATION_INGEST_JOB": "ingest_job", "CORRELATION_INGEST_FILE": "ingest_file",
        "CORRELATION_CHAT_TURN": "chat_turn", "CORRELATION_DRIVE_PIPELINE": "drive_pipeline",
        "CORRELATION_CLIENT_RECONCILE": "client_reconcile",
        "RESOURCE_CLOUD_RUN_CPU_SECONDS": "cloud_run_cpu_seconds",
        "RESOURCE_GCS_STAGING_BYTES": "gcs_staging_bytes",
        "RESOURCE_POSTGRES_CHUNK_WRITES": "postgres_chunk_writes",
        "RESOURCE_DRIVE_API_CALLS": "drive_api_calls",
        "RESOURCE_RATE_CPU_SECOND": "cpu_second", "RESOURCE_RATE_STORAGE_BYTE": "storage_byte",
        "PRICING_SOURCE_SEED_CATALOG": "seed_catalog",
        "PRICING_SOURCE_BIGQUERY_CATALOG": "bigquery_catalog",
        "COST_RATES_SOURCE_SEED": "seed", "COST_RATES_SOURCE_BIGQUERY": "bigquery",
    }  # fmt: skip
    assert {name: getattr(C, name) for name in expected} == expected


def test_schema_store_builders_give_the_0_1_3_schemas() -> None:
    """TABLE_* ids and <table>_schema() builders, e.g. chat_turns has 31 columns."""
    from il_audit.config.stores import audit_schema_store as store

    assert (store.IL_APP_INGEST, store.IL_APP_CHAT) == ("ingest", "chat")
    assert len(store.TABLE_SCHEMAS) == 12
    columns = store.TABLE_SCHEMAS[store.TABLE_API_USAGE_EVENTS]()
    assert [(field.name, field.field_type, field.mode) for field in columns[:2]] == [
        ("usage_id", "STRING", "REQUIRED"),
        ("logged_at", "TIMESTAMP", "REQUIRED"),
    ]
    assert len(store.chat_turns_schema()) == 31


def test_the_beacon_modules_keep_their_paths() -> None:
    """create_beacon_router and the request models import from 0.1.3's modules."""
    from il_audit.beacon_router import create_beacon_router
    from il_audit.beacon_schemas import BeaconEventItem, BeaconRequest

    request = BeaconRequest.model_validate({"events": [{"event_type": "ui.tab.viewed"}]})
    assert isinstance(request.events[0], BeaconEventItem)
    assert callable(create_beacon_router)


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in DROPPED.items() for n in names]
)
def test_every_dropped_name_is_in_the_migration_table(module: str, name: str) -> None:
    """A name 0.1.3 had and il-audit dropped is listed, with what to use instead."""
    table = migration_table()
    mention = re.compile(rf"`(?:[\w.]+\.)?{re.escape(name)}`")
    rows = [line for line in table.splitlines() if line.startswith("|") and mention.search(line)]
    assert rows, f"{module}.{name} is not in docs/migrating.md's migration table"
    assert any("dropped" in row for row in rows)
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError:
        return
    assert not hasattr(imported, name), f"{module}.{name} is listed as dropped but exists"


def test_the_migration_table_names_every_0_1_3_root_name() -> None:
    """Each of 0.1.3's `__all__` names appears in the table with a status."""
    table = migration_table()
    for name in ROOT_ALL_0_1_3:
        assert re.search(rf"`{name}[`(]", table), name


def test_the_demo_prices_match_the_0_1_3_calculator_vectors() -> None:
    """0.1.3's cost test vectors hold for the subscriber's pricing (exact, not rounded), for
    events of the 0.1.3 rates' period: the bundled catalog keeps them as its first period."""
    from il_audit.schemas.envelope import UsageItem
    from il_audit.subscriber_fn.pricing import item_cost, seed_catalog

    at = datetime(2026, 7, 2, tzinfo=UTC)
    catalog = seed_catalog()

    def cost(service: str, model_id: str, **usage: Any) -> Decimal | None:
        rate = catalog.rate_at(service, model_id, at)
        assert rate is not None
        return item_cost(UsageItem(service=service, model_id=model_id, **usage), rate)

    assert cost("vertex_gemini", "gemini-2.0-flash", input_tokens=1_000_000,
                output_tokens=200_000) == Decimal("0.18")  # fmt: skip
    assert cost("vertex_gemini", "gemini-2.5-flash-lite", input_tokens=1234,
                output_tokens=567) == Decimal("0.00026265")  # fmt: skip
    assert cost("cloud_run", "cpu_second", quantity=142.5) == Decimal("0.00342")
