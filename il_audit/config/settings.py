"""Runtime settings: one immutable object built from the environment and bundled JSON.

Precedence is environment first, then ``defaults.json`` shipped in this
package; nothing is hard-coded elsewhere. Every field names the variables that
set it, so ``il-audit --help`` and the README can be generated from one place.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from il_audit.errors import SettingsError


class Transport(StrEnum):
    """Where ``emit()`` sends events."""

    AUTO = "auto"
    """``pubsub`` when a GCP project is resolvable, otherwise ``local``."""
    PUBSUB = "pubsub"
    """Google Cloud Pub/Sub (or the emulator named by ``PUBSUB_EMULATOR_HOST``)."""
    LOCAL = "local"
    """The embedded pipeline: in-process validation and pricing into DuckDB."""
    MEMORY = "memory"
    """Keep published messages in memory (tests, demos)."""
    OFF = "off"
    """Accept nothing; ``emit()`` is a no-op returning ``None``."""


class CostRatesSource(StrEnum):
    """Where the subscriber reads its pricing catalog from."""

    SEED = "seed"
    BIGQUERY = "bigquery"


class SinkKind(StrEnum):
    """Where the subscriber writes rows."""

    BIGQUERY = "bigquery"
    DUCKDB = "duckdb"


# field name -> environment variables, first non-empty wins.
ENV_BINDINGS: Mapping[str, tuple[str, ...]] = {
    "project": ("IL_BQ_LOGS_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCP_PROJECT"),
    "dataset": ("IL_BQ_AUDIT_DATASET",),
    "dataset_location": ("IL_BQ_AUDIT_DATASET_LOCATION", "GCP_REGION"),
    "app": ("IL_AUDIT_APP", "K_SERVICE"),
    "environment": ("IL_AUDIT_ENVIRONMENT",),
    "transport": ("IL_AUDIT_TRANSPORT",),
    "topic": ("IL_AUDIT_TOPIC",),
    "dlq_topic": ("IL_AUDIT_DLQ_TOPIC",),
    "duckdb_path": ("IL_AUDIT_DUCKDB_PATH",),
    "sink": ("IL_AUDIT_SINK",),
    "bq_api_endpoint": ("IL_BQ_API_ENDPOINT",),
    "cost_rates_source": ("IL_COST_RATES_SOURCE",),
    "cost_rates_cache_seconds": ("IL_COST_RATES_CACHE_SECONDS",),
    "write_queue_max_size": ("IL_AUDIT_WRITE_QUEUE_MAX_SIZE",),
    "store_query_text": ("IL_AUDIT_STORE_QUERY_TEXT",),
    "max_events_per_message": ("IL_AUDIT_MAX_EVENTS_PER_MESSAGE",),
    "max_message_bytes": ("IL_AUDIT_MAX_MESSAGE_BYTES",),
    "max_latency_ms": ("IL_AUDIT_MAX_LATENCY_MS",),
    "shutdown_timeout_seconds": ("IL_AUDIT_SHUTDOWN_TIMEOUT_SECONDS",),
    "retry_initial_seconds": ("IL_AUDIT_RETRY_INITIAL_SECONDS",),
    "retry_max_seconds": ("IL_AUDIT_RETRY_MAX_SECONDS",),
    "strict": ("IL_AUDIT_STRICT",),
    "extra_event_types": ("IL_AUDIT_EXTRA_EVENT_TYPES",),
    "retention_days": ("IL_AUDIT_RETENTION_DAYS",),
}

# Both switches must be on; IL_ENABLE_BQ_LOGS is the seed library's older name.
ENABLE_VARIABLES = ("IL_ENABLE_AUDIT_LOGS", "IL_ENABLE_BQ_LOGS")

# Pub/Sub allows at most 10 MB per message; stay well below to leave room for attributes.
PUBSUB_MESSAGE_LIMIT_BYTES = 9_000_000

_DEFAULT_KEYS = {
    "enabled": "enable_audit_logs",
    "dataset": "bq_audit_dataset",
    "dataset_location": "bq_dataset_location",
}


class AuditSettings(BaseModel):
    """Every il-audit setting, validated once; instances are immutable.

    Build it with :meth:`from_env` (or :func:`get_audit_settings`, which caches
    one per process); construct it directly in tests.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(description="Master switch (IL_ENABLE_AUDIT_LOGS, IL_ENABLE_BQ_LOGS).")
    project: str | None = Field(
        default=None,
        description="GCP project of the topic and dataset "
        "(IL_BQ_LOGS_PROJECT, GOOGLE_CLOUD_PROJECT, GCP_PROJECT).",
    )
    dataset: str = Field(description="BigQuery dataset (IL_BQ_AUDIT_DATASET).")
    dataset_location: str = Field(description="BigQuery dataset location.")
    app: str | None = Field(
        default=None,
        description="App name used when no AuditContext gives one (IL_AUDIT_APP, K_SERVICE).",
    )
    environment: str | None = Field(
        default=None, description="Deployment environment stamped on events (IL_AUDIT_ENVIRONMENT)."
    )
    transport: Transport = Field(description="Where emit() sends events (IL_AUDIT_TRANSPORT).")
    topic: str = Field(min_length=3, description="Events topic id (IL_AUDIT_TOPIC).")
    dlq_topic: str = Field(min_length=3, description="Dead-letter topic id (IL_AUDIT_DLQ_TOPIC).")
    duckdb_path: str = Field(description="Embedded warehouse file (IL_AUDIT_DUCKDB_PATH).")
    sink: SinkKind = Field(description="Subscriber sink (IL_AUDIT_SINK).")
    bq_api_endpoint: str | None = Field(
        default=None, description="BigQuery API endpoint override (IL_BQ_API_ENDPOINT)."
    )
    cost_rates_source: CostRatesSource = Field(description="Pricing catalog source.")
    cost_rates_cache_seconds: float = Field(ge=0, description="Pricing catalog cache TTL.")
    write_queue_max_size: int = Field(
        ge=1, description="Events held before emit() starts dropping (accepted, not yet published)."
    )
    store_query_text: bool = Field(
        description="Store chat questions verbatim; false keeps only a SHA-256."
    )
    max_events_per_message: int = Field(
        ge=1, le=10_000, description="Envelopes packed into one Pub/Sub message."
    )
    max_message_bytes: int = Field(
        ge=1024,
        le=PUBSUB_MESSAGE_LIMIT_BYTES,
        description="Bytes packed into one Pub/Sub message.",
    )
    max_latency_ms: float = Field(
        gt=0, le=60_000, description="Longest a partly filled message waits for more events."
    )
    shutdown_timeout_seconds: float = Field(
        ge=0, description="Deadline of the flush that runs at interpreter exit."
    )
    retry_initial_seconds: float = Field(gt=0, description="First publish retry delay.")
    retry_max_seconds: float = Field(gt=0, description="Longest publish retry delay.")
    strict: bool = Field(
        description="Raise on invalid events and full queues instead of counting them (tests)."
    )
    extra_event_types: tuple[str, ...] = Field(
        default=(),
        description="Host event types accepted besides the taxonomy; 'prefix.*' allowed "
        "(IL_AUDIT_EXTRA_EVENT_TYPES, comma-separated).",
    )

    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Days events and dead letters are kept (IL_AUDIT_RETENTION_DAYS); "
        "unset keeps them forever.",
    )

    @field_validator("extra_event_types", mode="before")
    @classmethod
    def _split_event_types(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("project", "app", "environment", "bq_api_endpoint", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def max_latency_seconds(self) -> float:
        """``max_latency_ms`` in seconds."""
        return self.max_latency_ms / 1000.0

    @property
    def resolved_transport(self) -> Transport:
        """The transport ``auto`` stands for: Pub/Sub with a project, else embedded."""
        if not self.enabled:
            return Transport.OFF
        if self.transport is Transport.AUTO:
            return Transport.PUBSUB if self.project else Transport.LOCAL
        return self.transport

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuditSettings:
        """Build settings from ``environ`` (default ``os.environ``) over the bundled defaults.

        Raises :class:`~il_audit.errors.SettingsError` naming the variable at fault.
        """
        env = os.environ if environ is None else environ
        defaults = bundled_defaults()
        values: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for name in cls.model_fields:
            default_key = _DEFAULT_KEYS.get(name, name)
            if default_key in defaults:
                values[name] = defaults[default_key]
                origin[name] = f"defaults.json key {default_key!r}"
        for name, variables in ENV_BINDINGS.items():
            for variable in variables:
                raw = env.get(variable, "").strip()
                if raw:
                    values[name] = raw
                    origin[name] = f"environment variable {variable}"
                    break
        switches = [
            _parse_bool(env[variable].strip(), variable)
            for variable in ENABLE_VARIABLES
            if env.get(variable, "").strip()
        ]
        if switches:
            values["enabled"] = all(switches)
            origin["enabled"] = "environment variables " + "/".join(ENABLE_VARIABLES)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "?"
                where = origin.get(field, "default")
                problems.append(f"{field} (from {where}): {error['msg']}")
            raise SettingsError("invalid il-audit settings: " + "; ".join(problems)) from exc


def _parse_bool(raw: str, variable: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{variable} must be true or false, got {raw!r}")


@functools.cache
def bundled_defaults() -> Mapping[str, Any]:
    """The ``defaults.json`` shipped inside the package, parsed once."""
    text = resources.files("il_audit.config").joinpath("defaults.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise SettingsError("il_audit/config/defaults.json must hold a JSON object")
    return data


@functools.cache
def get_audit_settings() -> AuditSettings:
    """The process-wide settings, built from the environment on first use."""
    return AuditSettings.from_env()


def reset_audit_settings_cache() -> None:
    """Forget cached settings so the next :func:`get_audit_settings` rereads the environment."""
    get_audit_settings.cache_clear()
