"""Runtime settings: one immutable object built from the environment and bundled JSON.

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
import json
import logging
import os
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from typing import Any, Final, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from il_audit.config.runtime import detect_managed_runtime
from il_audit.errors import SettingsError

logger = logging.getLogger(__name__)


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
    "subscription_max_delivery_attempts": ("IL_AUDIT_MAX_DELIVERY_ATTEMPTS",),
    "subscription_min_backoff_seconds": ("IL_AUDIT_MIN_BACKOFF_SECONDS",),
    "subscription_max_backoff_seconds": ("IL_AUDIT_MAX_BACKOFF_SECONDS",),
    "subscription_ack_deadline_seconds": ("IL_AUDIT_ACK_DEADLINE_SECONDS",),
    "dlq_max_replays": ("IL_AUDIT_MAX_REPLAYS",),
    "spool_dir": ("IL_AUDIT_SPOOL_DIR",),
    "spool_max_bytes": ("IL_AUDIT_SPOOL_MAX_BYTES",),
    "retention_days": ("IL_AUDIT_RETENTION_DAYS",),
}

# Both switches must be on; IL_ENABLE_BQ_LOGS is the seed library's older name.
ENABLE_VARIABLES = ("IL_ENABLE_AUDIT_LOGS", "IL_ENABLE_BQ_LOGS")
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_BOOL_RULE: Final = "must be one of 1/true/yes/on or 0/false/no/off"
# Parsed with _TRUE/_FALSE (pydantic alone would also take "t" or "y").
_BOOL_FIELDS: Final = frozenset({"store_query_text", "strict"})

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

    @field_validator("project", "app", "environment", "bq_api_endpoint", "spool_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("transport", "sink", "cost_rates_source", mode="before")
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
        read = _read(cls, env, defaults)
        values, from_env, problems = read.values, read.from_env, read.problems
        while True:
            try:
                settings = cls.model_validate(values)
                break
            except ValidationError as exc:
                invalid = _env_problems(exc, from_env)
                if invalid is None:  # a bundled default is broken: nothing to fall back to
                    raise SettingsError(f"invalid il-audit settings: {exc}") from exc
                problems.extend(invalid)
                if not lenient:
                    raise _settings_error(problems) from exc
                for problem in invalid:  # back to the bundled default, then validate again
                    key = _DEFAULT_KEYS.get(problem.field, problem.field)
                    values[problem.field] = defaults.get(key)
                    values["origins"][problem.field] = f"defaults.json key {key!r}"
                    del from_env[problem.field]
        if problems and not lenient:
            raise _settings_error(problems)
        for problem in problems:
            logger.error("il-audit: %s; %s", problem.text, _fallback(problem, settings))
        return settings


class _Read(NamedTuple):
    values: dict[str, Any]
    from_env: dict[str, tuple[str, str]]
    """field -> (variable, raw value) for values taken from the environment."""
    problems: list[_Problem]


def _read(model: type[AuditSettings], env: Mapping[str, str], defaults: Mapping[str, Any]) -> _Read:
    """Raw values: bundled defaults overlaid with the environment, plus unusable switches."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name in model.model_fields:
        key = _DEFAULT_KEYS.get(name, name)
        if key in defaults:
            values[name] = defaults[key]
            origins[name] = f"defaults.json key {key!r}"
    problems: list[_Problem] = []
    from_env: dict[str, tuple[str, str]] = {}
    for name, variables in ENV_BINDINGS.items():
        found = _first_set(env, variables)
        if found is None:
            continue
        variable, raw = found
        if name in _BOOL_FIELDS and raw.lower() not in _TRUE | _FALSE:
            problems.append(_Problem(name, variable, raw, _BOOL_RULE))
            continue
        values[name] = raw
        origins[name] = f"environment variable {variable}"
        from_env[name] = found
    switches = []
    for variable in ENABLE_VARIABLES:
        raw = env.get(variable, "").strip()
        if raw.lower() in _TRUE | _FALSE:
            switches.append(raw.lower() in _TRUE)
        elif raw:
            problems.append(_Problem("enabled", variable, raw, _BOOL_RULE))
    if switches:
        values["enabled"] = all(switches)
        origins["enabled"] = "environment variables " + "/".join(ENABLE_VARIABLES)
    values["managed_runtime"] = detect_managed_runtime(env)
    values["origins"] = origins
    return _Read(values, from_env, problems)


class _Problem(NamedTuple):
    """One unusable value: which field, which variable, what it held, which rule it broke."""

    field: str
    variable: str
    value: str
    rule: str

    @property
    def text(self) -> str:
        return f"{self.variable}={self.value!r} is not valid: {self.rule}"


def _first_set(env: Mapping[str, str], variables: tuple[str, ...]) -> tuple[str, str] | None:
    for variable in variables:
        raw = env.get(variable, "").strip()
        if raw:
            return variable, raw
    return None


def _env_problems(
    error: ValidationError, from_env: Mapping[str, tuple[str, str]]
) -> list[_Problem] | None:
    """The validation errors as problems of environment values (None if one is not)."""
    found: dict[str, _Problem] = {}
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        if field not in from_env:
            return None
        variable, raw = from_env[field]
        found.setdefault(field, _Problem(field, variable, raw, str(item["msg"])))
    return list(found.values())


def _settings_error(problems: list[_Problem]) -> SettingsError:
    return SettingsError(
        "invalid il-audit settings: " + "; ".join(problem.text for problem in problems)
    )


def _fallback(problem: _Problem, settings: AuditSettings) -> str:
    if problem.field == "enabled":
        return "ignored, auditing stays on" if settings.enabled else "ignored"
    return f"using the default {getattr(settings, problem.field)!r}"


@functools.cache
def bundled_defaults() -> Mapping[str, Any]:
    """The ``defaults.json`` shipped inside the package, parsed once."""
    text = resources.files("il_audit.config").joinpath("defaults.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise SettingsError("il_audit/config/defaults.json must hold a JSON object")
    return data


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


def strict_requested(environ: Mapping[str, str]) -> bool:
    """Whether ``IL_AUDIT_STRICT`` asks for strict mode (anything unrecognised is no)."""
    return environ.get("IL_AUDIT_STRICT", "").strip().lower() in _TRUE


def reset_audit_settings_cache() -> None:
    """Forget cached settings so the next :func:`get_audit_settings` rereads the environment."""
    get_audit_settings.cache_clear()
