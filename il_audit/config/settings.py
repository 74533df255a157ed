"""Runtime settings: one immutable object built from the environment and bundled JSON.

(How variables are read is ``_environment``'s job; this module is the model.)

Precedence is environment first, then ``defaults.json`` shipped in this
package; nothing is hard-coded elsewhere. Every field names the variables that
set it, so ``il-audit --help`` and the README can be generated from one place.

A bad value is treated differently by who reads it. An app (through
:func:`get_audit_settings`) logs one error naming the variable, the value and
the default it uses instead, and keeps auditing: a typo in a tuning variable
must never switch auditing off. Strict mode, the CLI and the subscriber
refuse the value with :class:`~il_audit.errors.SettingsError`, with the same
message.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from il_audit.config._environment import (
    DEFAULT_KEYS,
    ENABLE_VARIABLES,
    ENV_BINDINGS,
    bundled_defaults,
    env_problems,
    fallback_text,
    read_values,
    settings_error,
    strict_requested,
)
from il_audit.errors import SettingsError
from il_audit.schemas.wire import MAX_LINES_PER_MESSAGE, PUBSUB_MESSAGE_LIMIT_BYTES

logger = logging.getLogger(__name__)

__all__ = [
    "ENABLE_VARIABLES",
    "ENV_BINDINGS",
    "PUBSUB_MESSAGE_LIMIT_BYTES",
    "AuditSettings",
    "BigQueryWriteMethod",
    "CostRatesSource",
    "SinkKind",
    "Transport",
    "bundled_defaults",
    "get_audit_settings",
    "refuse_invalid_settings",
    "reset_audit_settings_cache",
    "strict_requested",
]


class Transport(StrEnum):
    """Where ``emit()`` sends events."""

    AUTO = "auto"
    """``pubsub`` on a managed Google runtime or with a project variable, otherwise ``local``."""
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


class Compression(StrEnum):
    """How message bodies travel to Pub/Sub (the local and memory transports never compress)."""

    GZIP = "gzip"
    """gzip at its fastest level: 10-25 times fewer bytes billed, ~2 µs of CPU per event."""
    NONE = "none"
    """Plain NDJSON."""


class BigQueryWriteMethod(StrEnum):
    """How the BigQuery sink writes events and dead letters."""

    STORAGE_WRITE = "storage_write"
    """The Storage Write API's default stream (``AppendRows``): half the price of insertAll."""
    INSERT_ALL = "insert_all"
    """Legacy streaming inserts (``tabledata.insertAll`` with ``insertId``)."""


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
    app_version: str | None = Field(
        default=None,
        description="Version of the emitting app when no context gives one "
        "(IL_AUDIT_APP_VERSION, K_REVISION).",
    )
    transport: Transport = Field(description="Where emit() sends events (IL_AUDIT_TRANSPORT).")
    topic: str = Field(min_length=3, description="Events topic id (IL_AUDIT_TOPIC).")
    dlq_topic: str = Field(min_length=3, description="Dead-letter topic id (IL_AUDIT_DLQ_TOPIC).")
    duckdb_path: str = Field(description="Embedded warehouse file (IL_AUDIT_DUCKDB_PATH).")
    duckdb_memory_limit: str = Field(
        pattern=r"(?i)^\s*\d+(\.\d+)?\s*[KMGT]i?B\s*$",
        description="DuckDB's memory_limit on every connection il-audit opens, e.g. 512MB "
        "(IL_AUDIT_DUCKDB_MEMORY_LIMIT); primary-key indexes count against it.",
    )
    sink: SinkKind = Field(description="Subscriber sink (IL_AUDIT_SINK).")
    bq_api_endpoint: str | None = Field(
        default=None, description="BigQuery API endpoint override (IL_BQ_API_ENDPOINT)."
    )
    bq_write_method: BigQueryWriteMethod = Field(
        description="How the subscriber writes rows to BigQuery: storage_write or insert_all "
        "(IL_AUDIT_BQ_WRITE_METHOD)."
    )
    bq_storage_api_endpoint: str | None = Field(
        default=None,
        description="BigQuery Storage API (gRPC) endpoint override, host:port, reached in "
        "plaintext with anonymous credentials: a local stand-in (IL_BQ_STORAGE_API_ENDPOINT).",
    )
    cost_rates_source: CostRatesSource = Field(description="Pricing catalog source.")
    cost_rates_cache_seconds: float = Field(ge=0, description="Pricing catalog cache TTL.")
    write_queue_max_size: int = Field(
        ge=1, description="Events held before emit() starts dropping (accepted, not yet published)."
    )
    store_query_text: bool = Field(
        description="Store chat questions verbatim; false keeps only a SHA-256."
    )
    store_model_call_text: bool = Field(
        description="Record prompt and completion text of model calls "
        "(chat.model_call.text; IL_AUDIT_STORE_MODEL_CALL_TEXT, default false)."
    )
    hash_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC-SHA-256 that hashes questions and client addresses "
        "(IL_AUDIT_HASH_KEY); never logged.",
    )
    job_context_max_bindings: int = Field(
        ge=1,
        description="Job ids remembered by bind_job_audit_context (IL_JOB_CONTEXT_MAX_BINDINGS).",
    )
    job_context_binding_ttl_seconds: float = Field(
        gt=0,
        description="How long a job binding lives (IL_JOB_CONTEXT_BINDING_TTL_SECONDS).",
    )
    max_events_per_message: int = Field(
        ge=1, le=10_000, description="Envelopes packed into one Pub/Sub message."
    )
    max_message_bytes: int = Field(
        ge=1024,
        le=PUBSUB_MESSAGE_LIMIT_BYTES,
        description="Bytes packed into one Pub/Sub message.",
    )
    compression: Compression = Field(
        description="Message bodies sent to Pub/Sub: gzip or none (IL_AUDIT_COMPRESSION)."
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
    subscription_max_delivery_attempts: int = Field(
        ge=5,
        le=100,
        description="Deliveries before Pub/Sub dead-letters a message itself "
        "(IL_AUDIT_MAX_DELIVERY_ATTEMPTS; infra apply).",
    )
    subscription_min_backoff_seconds: int = Field(
        ge=0, le=600, description="Shortest redelivery backoff (IL_AUDIT_MIN_BACKOFF_SECONDS)."
    )
    subscription_max_backoff_seconds: int = Field(
        ge=0, le=600, description="Longest redelivery backoff (IL_AUDIT_MAX_BACKOFF_SECONDS)."
    )
    subscription_ack_deadline_seconds: int = Field(
        ge=10,
        le=600,
        description="Ack deadline of the function's subscription (IL_AUDIT_ACK_DEADLINE_SECONDS).",
    )
    dlq_max_replays: int = Field(
        ge=1,
        description="Replays of one dead letter before replay refuses it (IL_AUDIT_MAX_REPLAYS).",
    )
    max_rejects_per_message: int = Field(
        ge=1,
        le=MAX_LINES_PER_MESSAGE,
        description="Rejected lines of one message dead-lettered one by one; past it the message "
        "is dead-lettered once, whole (IL_AUDIT_MAX_REJECTS_PER_MESSAGE).",
    )
    spool_dir: str | None = Field(
        default=None,
        description="Directory of the disk spool that keeps unpublished messages across "
        "outages and restarts; off when unset (IL_AUDIT_SPOOL_DIR).",
    )
    spool_max_bytes: int = Field(
        ge=1024 * 1024,
        description="Bytes the whole spool directory may hold; past it messages are dropped "
        "and counted (IL_AUDIT_SPOOL_MAX_BYTES).",
    )
    managed_runtime: str | None = Field(
        default=None,
        description="The variable that marks a managed Google runtime (K_SERVICE, "
        "CLOUD_RUN_JOB, FUNCTION_TARGET, GAE_SERVICE), when one is set.",
    )
    origins: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,
        description="Where each value came from (field -> variable or defaults.json key).",
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

    @field_validator(
        "project",
        "app",
        "environment",
        "bq_api_endpoint",
        "bq_storage_api_endpoint",
        "spool_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator(
        "transport", "sink", "cost_rates_source", "compression", "bq_write_method", mode="before"
    )
    @classmethod
    def _enum_ignores_case(cls, value: Any) -> Any:
        # "BigQuery" and "bigquery" are the same choice.
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def max_latency_seconds(self) -> float:
        """``max_latency_ms`` in seconds."""
        return self.max_latency_ms / 1000.0

    @property
    def resolved_transport(self) -> Transport:
        """The transport ``auto`` stands for.

        Pub/Sub on a managed Google runtime (whose disk goes away with the
        instance, so an embedded file there would lose every event) or with a
        project variable; the embedded file otherwise, so that a laptop logged
        in with gcloud never publishes to whatever project gcloud points at.
        """
        if not self.enabled:
            return Transport.OFF
        if self.transport is Transport.AUTO:
            if self.managed_runtime or self.project:
                return Transport.PUBSUB
            return Transport.LOCAL
        return self.transport

    # ----- 0.1.3's attribute names (il_audit.config.audit_settings.AuditSettings) -----

    @property
    def bq_project(self) -> str:
        """0.1.3's name: the project (``""`` when none, as 0.1.3 said it)."""
        return self.project or ""

    @property
    def bq_dataset(self) -> str:
        """0.1.3's name for :attr:`dataset`."""
        return self.dataset

    @property
    def bq_dataset_location(self) -> str:
        """0.1.3's name for :attr:`dataset_location`."""
        return self.dataset_location

    @property
    def enable_audit_logs(self) -> bool:
        """0.1.3's name for :attr:`enabled`."""
        return self.enabled

    @property
    def flush_batch_size(self) -> int:
        """0.1.3's name: now the events packed per message (:attr:`max_events_per_message`)."""
        return self.max_events_per_message

    @property
    def flush_interval_seconds(self) -> float:
        """0.1.3's name: now the longest a message waits to fill (:attr:`max_latency_ms`)."""
        return self.max_latency_seconds

    def origin(self, field: str) -> str:
        """Where ``field``'s value came from, for humans (``il-audit doctor``)."""
        return self.origins.get(field, "the built-in default")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, lenient: bool = False
    ) -> AuditSettings:
        """Build settings from ``environ`` (default ``os.environ``) over the bundled defaults.

        A bad value raises :class:`~il_audit.errors.SettingsError` naming the
        variable, its value and the rule it breaks. With ``lenient`` the same
        message is logged instead and the default is used; a garbled enable
        switch is ignored, so auditing stays on.
        """
        env = os.environ if environ is None else environ
        defaults = bundled_defaults()
        read = read_values(cls, env, defaults)
        values, from_env, problems = read.values, read.from_env, read.problems
        while True:
            try:
                settings = cls.model_validate(values)
                break
            except ValidationError as exc:
                invalid = env_problems(exc, from_env)
                if invalid is None:  # a bundled default is broken: nothing to fall back to
                    raise SettingsError(f"invalid il-audit settings: {exc}") from exc
                problems.extend(invalid)
                if not lenient:
                    raise settings_error(problems) from exc
                for problem in invalid:  # back to the bundled default, then validate again
                    key = DEFAULT_KEYS.get(problem.field, problem.field)
                    values[problem.field] = defaults.get(key)
                    values["origins"][problem.field] = f"defaults.json key {key!r}"
                    del from_env[problem.field]
        if problems and not lenient:
            raise settings_error(problems)
        for problem in problems:
            logger.error("il-audit: %s; %s", problem.text, fallback_text(problem, settings))
        return settings


_refuse_invalid = False


def refuse_invalid_settings(refuse: bool = True) -> None:
    """Make :func:`get_audit_settings` raise on a bad value instead of falling back.

    The CLI and the subscriber call this: an operator's command or a deployed
    function should stop on a typo, while an app keeps auditing on defaults.
    """
    global _refuse_invalid
    _refuse_invalid = refuse
    reset_audit_settings_cache()


@functools.cache
def get_audit_settings() -> AuditSettings:
    """The process-wide settings, built from the environment on first use.

    In an app a bad value is logged and its default used; strict mode
    (``IL_AUDIT_STRICT``), the CLI and the subscriber raise
    :class:`~il_audit.errors.SettingsError` instead.
    """
    strict = _refuse_invalid or strict_requested(os.environ)
    return AuditSettings.from_env(lenient=not strict)


def reset_audit_settings_cache() -> None:
    """Forget cached settings so the next :func:`get_audit_settings` rereads the environment."""
    get_audit_settings.cache_clear()
