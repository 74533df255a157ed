"""Settings: environment first, bundled JSON second, clear errors."""

from __future__ import annotations

import pytest

from il_audit.config.runtime import MANAGED_RUNTIME_VARIABLES
from il_audit.config.settings import (
    AuditSettings,
    BigQueryWriteMethod,
    CostRatesSource,
    Transport,
    bundled_defaults,
    get_audit_settings,
)
from il_audit.errors import SettingsError


def test_defaults_come_from_the_bundled_json() -> None:
    """With an empty environment every value is the bundled default."""
    settings = AuditSettings.from_env({})
    defaults = bundled_defaults()
    assert settings.enabled is True
    assert settings.dataset == defaults["bq_audit_dataset"] == "intelligence_layer_logs"
    assert settings.write_queue_max_size == 10_000
    assert settings.cost_rates_cache_seconds == 3600
    assert settings.cost_rates_source is CostRatesSource.SEED
    assert settings.topic == "il-audit-events"
    assert settings.dlq_topic == "il-audit-events-dlq"
    assert settings.max_events_per_message == 500
    assert settings.max_message_bytes == 512_000
    assert settings.max_latency_ms == 100
    assert settings.store_query_text is True
    assert settings.project is None


def test_environment_overrides_defaults() -> None:
    """Each documented variable changes its field."""
    settings = AuditSettings.from_env(
        {
            "IL_BQ_AUDIT_DATASET": "audit_ds",
            "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": "42",
            "IL_COST_RATES_SOURCE": "bigquery",
            "IL_COST_RATES_CACHE_SECONDS": "60",
            "IL_AUDIT_STORE_QUERY_TEXT": "false",
            "IL_AUDIT_TOPIC": "my-topic",
            "IL_AUDIT_TRANSPORT": "memory",
            "IL_AUDIT_MAX_EVENTS_PER_MESSAGE": "1",
        }
    )
    assert settings.dataset == "audit_ds"
    assert settings.write_queue_max_size == 42
    assert settings.cost_rates_source is CostRatesSource.BIGQUERY
    assert settings.cost_rates_cache_seconds == 60
    assert settings.store_query_text is False
    assert settings.topic == "my-topic"
    assert settings.transport is Transport.MEMORY
    assert settings.max_events_per_message == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"IL_BQ_LOGS_PROJECT": "a", "GOOGLE_CLOUD_PROJECT": "b", "GCP_PROJECT": "c"}, "a"),
        ({"GOOGLE_CLOUD_PROJECT": "b", "GCP_PROJECT": "c"}, "b"),
        ({"GCP_PROJECT": "c"}, "c"),
        ({"IL_BQ_LOGS_PROJECT": "  ", "GCP_PROJECT": "c"}, "c"),
    ],
)
def test_project_falls_back_through_the_standard_variables(
    environ: dict[str, str], expected: str
) -> None:
    """IL_BQ_LOGS_PROJECT, then GOOGLE_CLOUD_PROJECT, then GCP_PROJECT; blanks are skipped."""
    assert AuditSettings.from_env(environ).project == expected


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, True),
        ({"IL_ENABLE_AUDIT_LOGS": "false"}, False),
        ({"IL_ENABLE_BQ_LOGS": "0"}, False),
        ({"IL_ENABLE_AUDIT_LOGS": "true", "IL_ENABLE_BQ_LOGS": "off"}, False),
        ({"IL_ENABLE_AUDIT_LOGS": "yes"}, True),
    ],
)
def test_both_enable_switches_are_honoured(environ: dict[str, str], enabled: bool) -> None:
    """Auditing is on only when neither IL_ENABLE_AUDIT_LOGS nor IL_ENABLE_BQ_LOGS says no."""
    assert AuditSettings.from_env(environ).enabled is enabled


def test_bad_value_names_the_variable() -> None:
    """An unusable value raises SettingsError that says which variable holds it."""
    with pytest.raises(SettingsError, match="IL_AUDIT_WRITE_QUEUE_MAX_SIZE"):
        AuditSettings.from_env({"IL_AUDIT_WRITE_QUEUE_MAX_SIZE": "lots"})


def test_bad_switch_names_the_variable() -> None:
    """A switch that is neither true nor false is refused, naming the variable."""
    with pytest.raises(SettingsError, match="IL_ENABLE_AUDIT_LOGS"):
        AuditSettings.from_env({"IL_ENABLE_AUDIT_LOGS": "maybe"})


def test_extra_event_types_are_comma_separated() -> None:
    """IL_AUDIT_EXTRA_EVENT_TYPES splits on commas and trims blanks."""
    settings = AuditSettings.from_env({"IL_AUDIT_EXTRA_EVENT_TYPES": " a.b , billing.* ,,"})
    assert settings.extra_event_types == ("a.b", "billing.*")


@pytest.mark.parametrize(
    ("environ", "transport"),
    [
        ({}, Transport.LOCAL),
        ({"GOOGLE_CLOUD_PROJECT": "p"}, Transport.PUBSUB),
        ({"IL_AUDIT_TRANSPORT": "memory", "GOOGLE_CLOUD_PROJECT": "p"}, Transport.MEMORY),
        ({"IL_ENABLE_AUDIT_LOGS": "false", "IL_AUDIT_TRANSPORT": "pubsub"}, Transport.OFF),
    ],
)
def test_auto_transport_follows_the_project(environ: dict[str, str], transport: Transport) -> None:
    """auto is Pub/Sub with a project and the embedded pipeline without; disabled is off."""
    assert AuditSettings.from_env(environ).resolved_transport is transport


def test_settings_are_immutable() -> None:
    """Settings cannot be changed after they are built."""
    settings = AuditSettings.from_env({})
    with pytest.raises(ValueError, match="frozen"):
        settings.topic = "other"  # type: ignore[misc]


def test_get_audit_settings_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """get_audit_settings() uses os.environ and caches until reset."""
    monkeypatch.setenv("IL_AUDIT_TOPIC", "from-env")
    assert get_audit_settings().topic == "from-env"
    monkeypatch.setenv("IL_AUDIT_TOPIC", "changed")
    assert get_audit_settings().topic == "from-env"


TUNING_VARIABLES = [
    ("IL_AUDIT_WRITE_QUEUE_MAX_SIZE", "write_queue_max_size"),
    ("IL_AUDIT_MAX_EVENTS_PER_MESSAGE", "max_events_per_message"),
    ("IL_AUDIT_MAX_MESSAGE_BYTES", "max_message_bytes"),
    ("IL_AUDIT_MAX_LATENCY_MS", "max_latency_ms"),
    ("IL_AUDIT_SHUTDOWN_TIMEOUT_SECONDS", "shutdown_timeout_seconds"),
    ("IL_AUDIT_RETRY_INITIAL_SECONDS", "retry_initial_seconds"),
    ("IL_AUDIT_RETRY_MAX_SECONDS", "retry_max_seconds"),
    ("IL_COST_RATES_SOURCE", "cost_rates_source"),
    ("IL_COST_RATES_CACHE_SECONDS", "cost_rates_cache_seconds"),
    ("IL_AUDIT_STORE_QUERY_TEXT", "store_query_text"),
    ("IL_AUDIT_SPOOL_MAX_BYTES", "spool_max_bytes"),
    ("IL_AUDIT_BQ_WRITE_METHOD", "bq_write_method"),
    ("IL_AUDIT_MAX_REJECTS_PER_MESSAGE", "max_rejects_per_message"),
    ("IL_AUDIT_DUCKDB_MEMORY_LIMIT", "duckdb_memory_limit"),
]


@pytest.mark.parametrize(("variable", "field"), TUNING_VARIABLES)
def test_lenient_settings_log_a_bad_tuning_value_and_use_the_default(
    variable: str, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage in a tuning variable is logged with the variable, value and default used."""
    default = getattr(AuditSettings.from_env({}), field)
    settings = AuditSettings.from_env({variable: "garbage!"}, lenient=True)
    assert getattr(settings, field) == default
    assert f"{variable}='garbage!' is not valid" in caplog.text
    assert f"using the default {default!r}" in caplog.text


@pytest.mark.parametrize("variable", [variable for variable, _ in TUNING_VARIABLES])
def test_strict_settings_refuse_a_bad_tuning_value_with_the_same_message(variable: str) -> None:
    """Without leniency the same problem raises, naming the variable and the value."""
    with pytest.raises(SettingsError, match=f"{variable}='garbage!' is not valid"):
        AuditSettings.from_env({variable: "garbage!"})


def test_an_out_of_range_value_falls_back_too(caplog: pytest.LogCaptureFixture) -> None:
    """A number outside its range is as unusable as text, and is reported the same way."""
    settings = AuditSettings.from_env({"IL_AUDIT_MAX_EVENTS_PER_MESSAGE": "0"}, lenient=True)
    assert settings.max_events_per_message == 500
    assert "IL_AUDIT_MAX_EVENTS_PER_MESSAGE='0' is not valid" in caplog.text


def test_bigquery_write_method_defaults_to_the_storage_write_api() -> None:
    """Without IL_AUDIT_BQ_WRITE_METHOD the subscriber writes through the Storage Write API."""
    settings = AuditSettings.from_env({})
    assert settings.bq_write_method is BigQueryWriteMethod.STORAGE_WRITE
    assert settings.bq_storage_api_endpoint is None


@pytest.mark.parametrize("value", ["insert_all", "INSERT_ALL", " Insert_All "])
def test_bigquery_write_method_insert_all_ignores_case(value: str) -> None:
    """IL_AUDIT_BQ_WRITE_METHOD=INSERT_ALL keeps the legacy streaming inserts."""
    settings = AuditSettings.from_env({"IL_AUDIT_BQ_WRITE_METHOD": value})
    assert settings.bq_write_method is BigQueryWriteMethod.INSERT_ALL


@pytest.mark.parametrize("value", ["BigQuery", "BIGQUERY", " bigquery "])
def test_enumerations_ignore_case(value: str) -> None:
    """IL_COST_RATES_SOURCE=BigQuery means bigquery."""
    assert AuditSettings.from_env({"IL_COST_RATES_SOURCE": value}).cost_rates_source is (
        CostRatesSource.BIGQUERY
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("TRUE", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("NO", False),
        ("Off", False),
    ],
)
def test_switches_recognise_the_documented_words_in_any_case(raw: str, expected: bool) -> None:
    """1/true/yes/on and 0/false/no/off are read in any case, for every boolean."""
    settings = AuditSettings.from_env(
        {"IL_ENABLE_AUDIT_LOGS": raw, "IL_AUDIT_STORE_QUERY_TEXT": raw}
    )
    assert settings.enabled is expected
    assert settings.store_query_text is expected


@pytest.mark.parametrize("variable", ["IL_ENABLE_AUDIT_LOGS", "IL_ENABLE_BQ_LOGS"])
@pytest.mark.parametrize("raw", ["maybe", "t", "disabled"])
def test_a_garbled_enable_switch_leaves_auditing_on(
    variable: str, raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Unlike 0.1.3 (garbage meant off), only a recognised 'off' word turns auditing off."""
    settings = AuditSettings.from_env({variable: raw}, lenient=True)
    assert settings.enabled is True
    assert settings.resolved_transport is not Transport.OFF
    assert f"{variable}={raw!r} is not valid" in caplog.text


def test_only_the_documented_switches_turn_auditing_off() -> None:
    """The two enable switches and IL_AUDIT_TRANSPORT=off are the only ways to stop auditing."""
    off = [
        {"IL_ENABLE_AUDIT_LOGS": "off"},
        {"IL_ENABLE_BQ_LOGS": "0"},
        {"IL_AUDIT_TRANSPORT": "OFF"},
    ]
    for environ in off:
        assert AuditSettings.from_env(environ, lenient=True).resolved_transport is Transport.OFF
    garbage = {variable: "???" for variable, _ in TUNING_VARIABLES}
    garbage.update({"IL_AUDIT_TRANSPORT": "carrier-pigeon", "IL_ENABLE_AUDIT_LOGS": "???"})
    assert AuditSettings.from_env(garbage, lenient=True).resolved_transport is Transport.LOCAL


def test_get_audit_settings_is_lenient_in_apps(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What apps read falls back to defaults; the error is logged once."""
    monkeypatch.setenv("IL_AUDIT_WRITE_QUEUE_MAX_SIZE", "lots")
    assert get_audit_settings().write_queue_max_size == 10_000
    assert caplog.text.count("IL_AUDIT_WRITE_QUEUE_MAX_SIZE='lots'") == 1


def test_get_audit_settings_refuses_bad_values_in_strict_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IL_AUDIT_STRICT=true makes the same bad value an error."""
    monkeypatch.setenv("IL_AUDIT_WRITE_QUEUE_MAX_SIZE", "lots")
    monkeypatch.setenv("IL_AUDIT_STRICT", "true")
    with pytest.raises(SettingsError, match="IL_AUDIT_WRITE_QUEUE_MAX_SIZE='lots'"):
        get_audit_settings()


def test_refusing_processes_raise_on_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and the subscriber read with strict=True: then the value is refused."""
    monkeypatch.setenv("IL_COST_RATES_SOURCE", "spreadsheet")
    with pytest.raises(SettingsError, match="IL_COST_RATES_SOURCE='spreadsheet'"):
        get_audit_settings(strict=True)
    assert get_audit_settings().cost_rates_source is CostRatesSource.SEED


@pytest.mark.parametrize("variable", MANAGED_RUNTIME_VARIABLES)
def test_auto_is_pubsub_on_every_managed_runtime(variable: str) -> None:
    """Cloud Run, Cloud Functions gen2 and App Engine never get the embedded file."""
    settings = AuditSettings.from_env({variable: "my-service"})
    assert settings.project is None
    assert settings.managed_runtime == variable
    assert settings.resolved_transport is Transport.PUBSUB


def test_kubernetes_alone_is_not_a_managed_runtime() -> None:
    """Every pod (CI runners included) has KUBERNETES_SERVICE_HOST: auto keeps its rule there."""
    settings = AuditSettings.from_env({"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert settings.managed_runtime is None
    assert settings.resolved_transport is Transport.LOCAL


def test_settings_remember_where_each_value_came_from() -> None:
    """Origins name the variable or the defaults.json key (doctor prints them)."""
    settings = AuditSettings.from_env({"GOOGLE_CLOUD_PROJECT": "p"})
    assert settings.origin("project") == "environment variable GOOGLE_CLOUD_PROJECT"
    assert settings.origin("topic") == "defaults.json key 'topic'"
