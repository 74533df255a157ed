"""Settings: environment first, bundled JSON second, clear errors."""

from __future__ import annotations

import pytest

from il_audit.config.settings import (
    AuditSettings,
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
    assert settings.max_events_per_message == 100
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
