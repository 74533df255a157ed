"""il-audit 1.0.35's surface outside the chat family, from the facts sheet (§5.1, §5.4, §5.5,
§5.7, §5.12, Appendix A): module paths, signatures, settings, the environment label, root
names, and what docs/migrating.md's migration table says about them."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import il_audit
from il_audit.config._environment import ENV_BINDINGS
from il_audit.config.settings import AuditSettings
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

MIGRATING = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"

# §5.1: 1.0.35's root names, less those other parts of issue 23 add (the visit handlers, and
# TABLE_CHAT_FEEDBACK / TABLE_CONTENT_REPORTS / TABLE_NOTIFICATION_SENDS with their schemas).
ROOT_1035 = [
    "API_CATEGORY_ANSWER", "API_CATEGORY_CONTEXTUALIZER", "API_CATEGORY_FORMAT_PREFERENCE",
    "API_CATEGORY_RERANK", "ApiUsageFields", "AuditContext", "AuditSettings", "IL_APP_CHAT",
    "IL_APP_INGEST", "JobAuditBinding", "TABLE_OUT_OF_SCOPE_QUERIES", "audit_json_default",
    "bind_chat_turn_usage", "bind_job_audit_context", "clear_chat_turn_usage",
    "clear_job_audit_context", "default_pricing_tier_for", "dumps_audit_json", "emit",
    "emit_api_usage", "emit_chat_session", "emit_chat_turn", "emit_model_call_text",
    "emit_out_of_scope_query", "emit_resource_usage", "emit_retrieval_candidates",
    "emit_retrieval_chunks", "emit_retrieval_pass", "flush_audit_writer", "get_audit_settings",
    "get_job_audit_binding", "message_counts_from_history", "out_of_scope_queries_schema",
    "question_sha256", "record_chat_query_turn", "register_builder",
    "reset_audit_settings_cache", "resolve_api_usage_fields", "resolve_ingest_api_usage_fields",
    "safe_call", "schedule_beacon_rows", "taxonomy",
]  # fmt: skip
ROOT_VALUES = {
    "API_CATEGORY_ANSWER": "answer",
    "API_CATEGORY_CONTEXTUALIZER": "contextualizer",
    "API_CATEGORY_FORMAT_PREFERENCE": "format_preference",
    "API_CATEGORY_RERANK": "rerank",
    "IL_APP_CHAT": "chat",
    "IL_APP_INGEST": "ingest",
}

# §5.5: field -> (env var, JSON key, default) for the settings that apply here.
SETTINGS_1035 = {
    "store_retrieval_candidates": ("IL_AUDIT_STORE_RETRIEVAL_CANDIDATES", True),
    "write_queue_max_bytes": ("IL_AUDIT_WRITE_QUEUE_MAX_BYTES", 134_217_728),
    "beacon_window_seconds": ("IL_BEACON_WINDOW_SECONDS", 10.0),
    "beacon_max_requests_per_window": ("IL_BEACON_MAX_REQUESTS_PER_WINDOW", 8),
    "beacon_rate_limit_max_keys": ("IL_BEACON_RATE_LIMIT_MAX_KEYS", 5000),
    "beacon_metadata_max_bytes": ("IL_BEACON_METADATA_MAX_BYTES", 8192),
    "beacon_string_max_length": ("IL_BEACON_STRING_MAX_LENGTH", 512),
    "beacon_max_events_per_request": ("IL_BEACON_MAX_EVENTS_PER_REQUEST", 50),
    "job_context_max_bindings": ("IL_JOB_CONTEXT_MAX_BINDINGS", 10_000),
    "job_context_binding_ttl_seconds": ("IL_JOB_CONTEXT_BINDING_TTL_SECONDS", 86_400),
}
# The same names in a 1.0.35 environment, with values other than the defaults.
SET_BY_1035_NAMES = {
    "IL_AUDIT_STORE_RETRIEVAL_CANDIDATES": ("store_retrieval_candidates", "false", False),
    "IL_AUDIT_WRITE_QUEUE_MAX_BYTES": ("write_queue_max_bytes", "1048576", 1_048_576),
    "IL_BEACON_WINDOW_SECONDS": ("beacon_window_seconds", "30", 30.0),
    "IL_BEACON_MAX_REQUESTS_PER_WINDOW": ("beacon_max_requests_per_window", "3", 3),
    "IL_BEACON_RATE_LIMIT_MAX_KEYS": ("beacon_rate_limit_max_keys", "99", 99),
    "IL_BEACON_METADATA_MAX_BYTES": ("beacon_metadata_max_bytes", "1024", 1024),
    "IL_BEACON_STRING_MAX_LENGTH": ("beacon_string_max_length", "64", 64),
    "IL_BEACON_MAX_EVENTS_PER_REQUEST": ("beacon_max_events_per_request", "5", 5),
    "IL_JOB_CONTEXT_MAX_BINDINGS": ("job_context_max_bindings", "7", 7),
    "IL_JOB_CONTEXT_BINDING_TTL_SECONDS": ("job_context_binding_ttl_seconds", "60", 60.0),
}
CTX = AuditContext(app="ingest", actor_uid="u-1")


def params(function: Any) -> list[tuple[str, str, Any]]:
    """(name, kind, default) of each parameter."""
    return [
        (p.name, p.kind.name, p.default if p.default is not p.empty else "<required>")
        for p in inspect.signature(function).parameters.values()
    ]


def migration_table() -> str:
    text = MIGRATING.read_text("utf-8")
    start = text.index("# Coming from il-audit 0.1.3")
    return text[start : text.index("## The 0.1.3 tables, as views")]


# ---------------------------------------------------------------- module paths


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("il_audit.fastapi", ["install_request_context_middleware", "request_correlation_ids"]),
        ("il_audit.writer", ["ApiCostSpec", "UnitCostSpec", "WriteQueueItem",
                             "finalize_write_item", "schedule_row", "schedule_rows"]),
        ("il_audit.cost_calculator", ["estimate_api_cost_usd", "estimate_unit_cost_usd",
                                      "estimate_token_bucket_api_cost_usd"]),
        ("il_audit.config.audit_environment", ["AUDIT_ENV_DEV_TEST_1", "AUDIT_ENV_DEV_TEST_2",
                                               "AUDIT_ENV_DEV_LOCAL", "AUDIT_ENV_PRODUCTION",
                                               "AUDIT_ENVIRONMENTS",
                                               "GCP_PROJECT_TO_AUDIT_ENVIRONMENT",
                                               "resolve_audit_environment"]),
        ("il_audit.envelope", ["actor_fields", "build_envelope_row", "question_sha256"]),
        ("il_audit.json_utils", ["audit_json_default", "dumps_audit_json"]),
        ("il_audit.safe", ["safe_call"]),
        ("il_audit.job_context", ["JobAuditBinding", "bind_job_audit_context",
                                  "clear_job_audit_context", "get_job_audit_binding",
                                  "reset_job_audit_context_for_tests"]),
    ],
)  # fmt: skip
def test_1035_module_paths_import_their_names(module: str, names: list[str]) -> None:
    """Each 1.0.35 module path imports, with its names."""
    imported = importlib.import_module(module)
    for name in names:
        assert getattr(imported, name) is not None, f"{module}.{name}"


def test_the_taxonomy_store_is_the_taxonomy_module_under_both_releases_paths() -> None:
    """1.0.35's `config.stores.audit_taxonomy_store`, 0.1.3's `il_audit.taxonomy` (which
    1.0.35 removed; kept here) and `from il_audit import taxonomy` are one module."""
    from il_audit import taxonomy
    from il_audit.config.stores import audit_taxonomy_store

    assert audit_taxonomy_store is taxonomy is importlib.import_module("il_audit.taxonomy")
    assert audit_taxonomy_store.AUTH_ACCESS_DENIED == "auth.access.denied"


def test_fastapi_signatures() -> None:
    """Appendix/§5.1: install_request_context_middleware(app) -> None,
    request_correlation_ids(request=None) -> (trace_id, request_id)."""
    from il_audit.fastapi import install_request_context_middleware, request_correlation_ids

    assert params(install_request_context_middleware) == [
        ("app", "POSITIONAL_OR_KEYWORD", "<required>")
    ]
    assert params(request_correlation_ids) == [("request", "POSITIONAL_OR_KEYWORD", None)]
    assert request_correlation_ids() == (None, None)


# ------------------------------------------------------------ writer and costs


def test_writer_specs_are_1035_s_frozen_slotted_dataclasses() -> None:
    """§5.1: ApiCostSpec, UnitCostSpec and WriteQueueItem fields, order and defaults."""
    from il_audit.writer import ApiCostSpec, UnitCostSpec, WriteQueueItem

    def shape(cls: type) -> list[tuple[str, Any]]:
        return [
            (f.name, f.default if f.default is not dataclasses.MISSING else "<required>")
            for f in dataclasses.fields(cls)
        ]

    assert [name for name, _ in shape(ApiCostSpec)] == [
        "service", "model_id", "input_tokens", "output_tokens", "pricing_tier"
    ]  # fmt: skip
    assert shape(UnitCostSpec) == [
        ("service", "<required>"), ("model_id", "<required>"), ("quantity", "<required>")
    ]  # fmt: skip
    assert shape(WriteQueueItem) == [
        ("table_id", "<required>"), ("row", "<required>"), ("api_cost", None),
        ("unit_cost", None), ("payload_bytes", 0),
    ]  # fmt: skip
    for cls in (ApiCostSpec, UnitCostSpec, WriteQueueItem):
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        assert "__slots__" in cls.__dict__


def test_writer_and_cost_calculator_signatures() -> None:
    """Appendix A: schedule_row(s) gain api_cost/unit_cost; the estimates take pricing_tier."""
    from il_audit import cost_calculator, writer

    kw = "KEYWORD_ONLY"
    assert params(writer.schedule_rows) == [
        ("table_id", kw, "<required>"), ("rows", kw, "<required>"),
        ("api_cost", kw, None), ("unit_cost", kw, None),
    ]  # fmt: skip
    assert params(writer.schedule_row) == [
        ("table_id", kw, "<required>"), ("row", kw, "<required>"),
        ("api_cost", kw, None), ("unit_cost", kw, None),
    ]  # fmt: skip
    assert params(writer.finalize_write_item) == [("item", "POSITIONAL_OR_KEYWORD", "<required>")]
    assert params(cost_calculator.estimate_api_cost_usd) == [
        ("service", kw, "<required>"), ("model_id", kw, "<required>"),
        ("input_tokens", kw, 0), ("output_tokens", kw, 0), ("pricing_tier", kw, "standard"),
    ]  # fmt: skip
    assert params(cost_calculator.estimate_unit_cost_usd) == [
        ("service", kw, "<required>"), ("model_id", kw, "<required>"),
        ("quantity", kw, "<required>"), ("pricing_tier", kw, "standard"),
    ]  # fmt: skip
    assert params(cost_calculator.estimate_token_bucket_api_cost_usd) == [
        ("service", kw, "<required>"), ("model_id", kw, "<required>"),
        ("bucket", kw, "<required>"), ("default_pricing_tier", kw, "standard"),
    ]  # fmt: skip


def test_cost_estimates_carry_the_bundled_catalog_s_version_and_source() -> None:
    """(cost, pricing_version, pricing_source) as 1.0.35 returned them; batch is cheaper than
    standard; an unknown model costs 0.0, still stamped; a unit cost is quantity x price."""
    from il_audit.cost_calculator import estimate_api_cost_usd, estimate_unit_cost_usd

    seed = json.loads(
        resources.files("il_audit.subscriber_fn").joinpath("cost_rates_seed.json").read_text()
    )
    version = seed["rate_version"]
    model = "gemini-2.5-flash-lite"
    standard = estimate_api_cost_usd(
        service="vertex_gemini", model_id=model, input_tokens=1_000_000
    )
    batch = estimate_api_cost_usd(
        service="vertex_gemini", model_id=model, input_tokens=1_000_000, pricing_tier="batch"
    )
    assert standard[1:] == batch[1:] == (version, "seed_catalog")
    assert 0 < batch[0] < standard[0]
    assert estimate_api_cost_usd(service="nope", model_id="nope", input_tokens=9) == (
        0.0, version, "seed_catalog"
    )  # fmt: skip
    cpu = estimate_unit_cost_usd(service="cloud_run", model_id="cpu_second", quantity=1000)
    one = estimate_unit_cost_usd(service="cloud_run", model_id="cpu_second", quantity=1)
    assert cpu[0] > 0
    assert cpu[0] == pytest.approx(one[0] * 1000)


def test_finalize_write_item_fills_the_estimate_from_the_spec() -> None:
    """§5.7: estimated_cost_usd, pricing_version and pricing_source from the attached spec;
    the caller's row is not changed; a row without a spec comes back as it was."""
    from il_audit.cost_calculator import estimate_api_cost_usd
    from il_audit.writer import ApiCostSpec, WriteQueueItem, finalize_write_item

    spec = ApiCostSpec("vertex_gemini", "gemini-2.5-flash-lite", 1000, 200, "batch")
    row = {"usage_id": "u-1"}
    table, priced = finalize_write_item(WriteQueueItem("api_usage_events", row, api_cost=spec))
    expected = estimate_api_cost_usd(
        service=spec.service, model_id=spec.model_id, input_tokens=1000, output_tokens=200,
        pricing_tier="batch",
    )  # fmt: skip
    assert table == "api_usage_events"
    assert (priced["estimated_cost_usd"], priced["pricing_version"], priced["pricing_source"]) == (
        expected
    )
    assert row == {"usage_id": "u-1"}
    assert finalize_write_item(WriteQueueItem("auth_events", row)) == ("auth_events", row)


def test_schedule_rows_publish_each_row_as_its_event(caplog: pytest.LogCaptureFixture) -> None:
    """A row with api_cost is a cost.api.usage event (the subscriber prices it), with
    unit_cost a cost.resource.usage event, with an event_type that event; a row with none
    is dropped with a warning naming its table."""
    from il_audit.envelope import build_envelope_row
    from il_audit.writer import ApiCostSpec, UnitCostSpec, schedule_row, schedule_rows

    usage_row = {"app": "chat", "actor_uid": "u-7", "operation": "generate_content",
                 "category": "answer", "correlation_id": "t-1", "correlation_type": "chat_turn",
                 "metadata_json": '{"step": 2}'}  # fmt: skip
    api = ApiCostSpec("vertex_gemini", "gemini-2.5-flash-lite", 100, 20, "batch")
    with capture_events() as events, caplog.at_level(logging.WARNING, logger="il_audit"):
        schedule_rows(table_id="api_usage_events", rows=[usage_row, usage_row], api_cost=api)
        schedule_row(
            table_id="resource_usage_events",
            row={"app": "ingest", "resource_type": "cloud_run_cpu_seconds", "unit": "second"},
            unit_cost=UnitCostSpec("cloud_run", "cpu_second", 3.5),
        )
        schedule_row(
            table_id="auth_events",
            row=build_envelope_row(context=CTX, event_type=T.AUTH_LOGOUT, action="logout"),
        )
        schedule_row(table_id="chat_feedback", row={"rating": 5})
    assert events.event_types == [
        T.API_USAGE_RECORDED, T.API_USAGE_RECORDED, T.RESOURCE_USAGE_RECORDED, T.AUTH_LOGOUT
    ]  # fmt: skip
    call = events[0]
    [item] = call.usage
    assert (call.app, call.actor_uid, call.correlation_id) == ("chat", "u-7", "t-1")
    assert (item.model_id, item.input_tokens, item.output_tokens, item.pricing_tier) == (
        "gemini-2.5-flash-lite", 100, 20, "batch"
    )  # fmt: skip
    assert call.metadata == {"step": 2}
    [unit] = events[2].usage
    assert (unit.model_id, unit.quantity, unit.unit) == ("cpu_second", 3.5, "second")
    assert (events[3].app, events[3].actor_uid, events[3].action) == ("ingest", "u-1", "logout")
    assert any("chat_feedback" in record.getMessage() for record in caplog.records)


def test_envelope_actor_fields_and_question_sha256() -> None:
    """§5.1: actor_fields(context, *, include_logged_at=False) keys; question_sha256 in
    il_audit.envelope (1.0.35 moved it there; 0.1.3's il_audit.emit keeps it here)."""
    from il_audit.envelope import actor_fields, question_sha256

    assert params(actor_fields) == [
        ("context", "POSITIONAL_OR_KEYWORD", "<required>"),
        ("include_logged_at", "KEYWORD_ONLY", False),
    ]
    context = AuditContext(app="chat", actor_uid="u", environment="production")
    assert set(actor_fields(context)) == {"app", "environment", "actor_uid", "actor_email"}
    with_version = actor_fields(context.replace(app_version="1.2"), include_logged_at=True)
    assert {"app_version", "logged_at"} <= set(with_version)
    assert question_sha256("hello") == (
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )


# -------------------------------------------------------------------- settings


@pytest.mark.parametrize(("field", "expected"), SETTINGS_1035.items())
def test_1035_settings_have_their_names_variables_json_keys_and_defaults(
    field: str, expected: tuple[str, Any]
) -> None:
    """§5.5: the attribute on AuditSettings, its variable, its defaults.json key and value."""
    variable, default = expected
    defaults = json.loads(resources.files("il_audit.config").joinpath("defaults.json").read_text())
    assert variable in ENV_BINDINGS[field]
    assert defaults[field] == default
    assert getattr(AuditSettings.from_env({}), field) == default


@pytest.mark.parametrize(("variable", "expected"), SET_BY_1035_NAMES.items())
def test_1035_variables_set_the_one_setting_they_name(
    variable: str, expected: tuple[str, str, Any]
) -> None:
    """A 1.0.35 variable sets the setting that the section reads (one source of truth):
    the flat name and the section's field give the same value."""
    field, raw, value = expected
    settings = AuditSettings.from_env({variable: raw})
    assert getattr(settings, field) == value
    assert settings.value(field) == value


def test_1035_settings_that_do_not_apply_here() -> None:
    """bq_streaming_insert_max_rows sized the host's BigQuery inserts, which hosts no longer
    make; store_model_call_text exists with a different default (docs/migrating.md says why)."""
    settings = AuditSettings.from_env({})
    assert not hasattr(settings, "bq_streaming_insert_max_rows")
    assert "bq_streaming_insert_max_rows" in migration_table()
    assert settings.store_model_call_text is False
    assert AuditSettings.from_env({"IL_AUDIT_STORE_MODEL_CALL_TEXT": "1"}).store_model_call_text


# ---------------------------------------------------------- environment label


def test_audit_environment_constants() -> None:
    """§5.5's four labels; the project map is a setting, so the constant map is empty."""
    from il_audit.config import audit_environment as env

    assert (env.AUDIT_ENV_DEV_TEST_1, env.AUDIT_ENV_DEV_TEST_2) == ("dev-test-1", "dev-test-2")
    assert (env.AUDIT_ENV_DEV_LOCAL, env.AUDIT_ENV_PRODUCTION) == ("dev-local", "production")
    assert frozenset({"dev-test-1", "dev-test-2", "dev-local", "production"}) == (
        env.AUDIT_ENVIRONMENTS
    )
    assert dict(env.GCP_PROJECT_TO_AUDIT_ENVIRONMENT) == {}
    assert params(env.resolve_audit_environment)[0] == ("bq_project", "KEYWORD_ONLY", "")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "dev-local"),
        ({"IL_AUDIT_ENVIRONMENT": "staging"}, "staging"),  # kept: 1.0.35 gave dev-local
        ({"IL_AUDIT_ENVIRONMENT": " production ", "K_SERVICE": "s"}, "production"),
        ({"GOOGLE_CLOUD_PROJECT": "p-1", "IL_AUDIT_ENVIRONMENT_MAP": "p-1=production"},
         "dev-local"),  # off a managed runtime the map is not read
        ({"K_SERVICE": "s", "GOOGLE_CLOUD_PROJECT": "p-1",
          "IL_AUDIT_ENVIRONMENT_MAP": "p-0=dev-test-1, p-1=production"}, "production"),
        ({"CLOUD_RUN_JOB": "j", "IL_BQ_LOGS_PROJECT": "p-0",
          "IL_AUDIT_ENVIRONMENT_MAP": "p-0=dev-test-1"}, "dev-test-1"),
        ({"FUNCTION_TARGET": "f", "GCP_PROJECT": "p-2",
          "IL_AUDIT_ENVIRONMENT_MAP": "p-2=qa"}, "qa"),
        ({"K_SERVICE": "s", "GOOGLE_CLOUD_PROJECT": "p-9",
          "IL_AUDIT_ENVIRONMENT_MAP": "p-1=production"}, None),  # unmapped: unlabelled
        ({"K_SERVICE": "s"}, None),
    ],
)  # fmt: skip
def test_the_environment_label_rules(environ: dict[str, str], expected: str | None) -> None:
    """An explicit label as given; dev-local off a managed runtime; on one, the project's
    label in IL_AUDIT_ENVIRONMENT_MAP, else none. The resolver and the settings agree."""
    from il_audit.config.audit_environment import resolve_audit_environment

    assert resolve_audit_environment(environ=environ) == expected
    assert AuditSettings.from_env(environ).audit_environment == expected


def test_the_environment_label_is_stamped_on_events_unless_the_context_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events carry the resolved label in `environment`; a context's own label wins."""
    monkeypatch.setenv("K_SERVICE", "checkout")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj-a")
    monkeypatch.setenv("IL_AUDIT_ENVIRONMENT_MAP", "proj-a=production")
    il_audit.reset_audit_settings_cache()
    with capture_events() as events:
        il_audit.emit(T.AUTH_LOGOUT, context=CTX)
        il_audit.emit(T.AUTH_LOGOUT, context=CTX.replace(environment="canary"))
    assert [event.environment for event in events] == ["production", "canary"]


def test_a_malformed_environment_map_names_its_variable() -> None:
    """A pair without `=` is a settings error naming IL_AUDIT_ENVIRONMENT_MAP (strict), and
    the default (no map) when lenient."""
    from il_audit.errors import SettingsError

    with pytest.raises(SettingsError, match="IL_AUDIT_ENVIRONMENT_MAP"):
        AuditSettings.from_env({"IL_AUDIT_ENVIRONMENT_MAP": "proj-a"})
    lenient = AuditSettings.from_env({"IL_AUDIT_ENVIRONMENT_MAP": "proj-a"}, lenient=True)
    assert lenient.environment_map == {}


# ------------------------------------------------------- root and the migration page


def test_1035_root_names_are_exported() -> None:
    """§5.1's root names (those of this part, and of issues 21-22) are in `__all__` and
    import; the constants have 1.0.35's values."""
    for name in ROOT_1035:
        assert name in il_audit.__all__, name
        assert getattr(il_audit, name) is not None, name
    for name, value in ROOT_VALUES.items():
        assert getattr(il_audit, name) == value
    assert il_audit.__version__ == "2.0.0"


def test_the_migration_table_has_a_1035_column_and_the_upgrade_checklist() -> None:
    """Each row says what differs from 0.1.3 and from 1.0.35; docs/migrating.md has the
    upgrade checklist in its order: provision, deploy the subscriber, then upgrade hosts."""
    table = migration_table()
    header = next(line for line in table.splitlines() if line.startswith("| name"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "name", "status", "compared with 0.1.3, and why", "compared with 1.0.35, and why"
    ]  # fmt: skip
    rows = [line for line in table.splitlines() if line.startswith("| ") and line != header]
    assert all(line.count(" | ") >= 3 for line in rows[1:]), "a row lacks a column"
    text = MIGRATING.read_text("utf-8")
    checklist = text[text.index("## Upgrading to 2.0") :].lower()
    steps = [
        checklist.index("il-audit infra apply"),
        checklist.index("deploy the subscriber"),
        checklist.index("upgrade the hosts"),
    ]
    assert steps == sorted(steps)
