"""Reading settings from the environment: variable bindings, switches, and what went wrong.

The machinery behind :meth:`il_audit.config.settings.AuditSettings.from_env`:
which variables set which setting (first non-empty wins), how booleans and the
enable switches are read, the bundled ``defaults.json``, and the problems a
bad value makes (named by variable and value, never silently ignored).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final, NamedTuple

from pydantic import BaseModel, ValidationError

from il_audit.config._names import name_at, path_of, section_types, setting_paths
from il_audit.config.runtime import detect_managed_runtime
from il_audit.errors import SettingsError

# setting name -> environment variables, first non-empty wins. A setting's name is its
# section's prefix plus its field (il_audit.config.sections); the enable switches below are
# read apart. Every variable il-audit reads for a setting is here, and nowhere else.
ENV_BINDINGS: Mapping[str, tuple[str, ...]] = {
    "project": ("IL_BQ_LOGS_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCP_PROJECT"),
    # publisher
    "transport": ("IL_AUDIT_TRANSPORT",),
    "app": ("IL_AUDIT_APP", "K_SERVICE"),
    "environment": ("IL_AUDIT_ENVIRONMENT",),
    "environment_map": ("IL_AUDIT_ENVIRONMENT_MAP",),
    "app_version": ("IL_AUDIT_APP_VERSION", "K_REVISION"),
    "write_queue_max_size": ("IL_AUDIT_WRITE_QUEUE_MAX_SIZE",),
    "write_queue_max_bytes": ("IL_AUDIT_WRITE_QUEUE_MAX_BYTES",),
    # IL_AUDIT_FLUSH_BATCH_SIZE / _INTERVAL_SECONDS are 0.1.3's names for packing and linger.
    "max_events_per_message": ("IL_AUDIT_MAX_EVENTS_PER_MESSAGE", "IL_AUDIT_FLUSH_BATCH_SIZE"),
    "max_message_bytes": ("IL_AUDIT_MAX_MESSAGE_BYTES",),
    "compression": ("IL_AUDIT_COMPRESSION",),
    "max_latency_ms": ("IL_AUDIT_MAX_LATENCY_MS", "IL_AUDIT_FLUSH_INTERVAL_SECONDS"),
    "shutdown_timeout_seconds": ("IL_AUDIT_SHUTDOWN_TIMEOUT_SECONDS",),
    "heartbeat_seconds": ("IL_AUDIT_HEARTBEAT_SECONDS",),
    "retry_initial_seconds": ("IL_AUDIT_RETRY_INITIAL_SECONDS",),
    "retry_max_seconds": ("IL_AUDIT_RETRY_MAX_SECONDS",),
    "strict": ("IL_AUDIT_STRICT",),
    "extra_event_types": ("IL_AUDIT_EXTRA_EVENT_TYPES",),
    "job_context_max_bindings": ("IL_JOB_CONTEXT_MAX_BINDINGS",),
    "job_context_binding_ttl_seconds": ("IL_JOB_CONTEXT_BINDING_TTL_SECONDS",),
    # pubsub
    "topic": ("IL_AUDIT_TOPIC",),
    "dlq_topic": ("IL_AUDIT_DLQ_TOPIC",),
    "subscription_max_delivery_attempts": ("IL_AUDIT_MAX_DELIVERY_ATTEMPTS",),
    "subscription_min_backoff_seconds": ("IL_AUDIT_MIN_BACKOFF_SECONDS",),
    "subscription_max_backoff_seconds": ("IL_AUDIT_MAX_BACKOFF_SECONDS",),
    "subscription_ack_deadline_seconds": ("IL_AUDIT_ACK_DEADLINE_SECONDS",),
    "dlq_max_replays": ("IL_AUDIT_MAX_REPLAYS",),
    # subscriber
    "cost_rates_source": ("IL_COST_RATES_SOURCE",),
    "cost_rates_cache_seconds": ("IL_COST_RATES_CACHE_SECONDS",),
    "max_rejects_per_message": ("IL_AUDIT_MAX_REJECTS_PER_MESSAGE",),
    # warehouse
    "sink": ("IL_AUDIT_SINK",),
    "dataset": ("IL_BQ_AUDIT_DATASET",),
    "dataset_location": ("IL_BQ_AUDIT_DATASET_LOCATION", "GCP_REGION"),
    "bq_api_endpoint": ("IL_BQ_API_ENDPOINT",),
    "bq_write_method": ("IL_AUDIT_BQ_WRITE_METHOD",),
    "bq_storage_api_endpoint": ("IL_BQ_STORAGE_API_ENDPOINT",),
    "duckdb_path": ("IL_AUDIT_DUCKDB_PATH",),
    "duckdb_memory_limit": ("IL_AUDIT_DUCKDB_MEMORY_LIMIT",),
    "retention_days": ("IL_AUDIT_RETENTION_DAYS",),
    "retention_days_by_family": ("IL_AUDIT_RETENTION_DAYS_BY_FAMILY",),
    # spool
    "spool_dir": ("IL_AUDIT_SPOOL_DIR",),
    "spool_max_bytes": ("IL_AUDIT_SPOOL_MAX_BYTES",),
    # privacy
    "hash_key": ("IL_AUDIT_HASH_KEY",),
    "pseudonymize_email": ("IL_AUDIT_PSEUDONYMIZE_EMAIL",),
    "hash_key_id": ("IL_AUDIT_HASH_KEY_ID",),
    # chat
    "store_query_text": ("IL_AUDIT_STORE_QUERY_TEXT",),
    "store_model_call_text": ("IL_AUDIT_STORE_MODEL_CALL_TEXT",),
    "store_retrieval_candidates": ("IL_AUDIT_STORE_RETRIEVAL_CANDIDATES",),
    # beacon
    "beacon_window_seconds": ("IL_BEACON_WINDOW_SECONDS",),
    "beacon_max_requests_per_window": ("IL_BEACON_MAX_REQUESTS_PER_WINDOW",),
    "beacon_max_refusals_per_window": ("IL_BEACON_MAX_REFUSALS_PER_WINDOW",),
    "beacon_rate_limit_max_keys": ("IL_BEACON_RATE_LIMIT_MAX_KEYS",),
    "beacon_metadata_max_bytes": ("IL_BEACON_METADATA_MAX_BYTES",),
    "beacon_string_max_length": ("IL_BEACON_STRING_MAX_LENGTH",),
    "beacon_max_events_per_request": ("IL_BEACON_MAX_EVENTS_PER_REQUEST",),
    "beacon_max_body_bytes": ("IL_BEACON_MAX_BODY_BYTES",),
    "beacon_trusted_proxy_hops": ("IL_BEACON_TRUSTED_PROXY_HOPS",),
    "beacon_script_max_age_seconds": ("IL_BEACON_SCRIPT_MAX_AGE_SECONDS",),
}

# Both switches must be on; IL_ENABLE_BQ_LOGS is the seed library's older name.
ENABLE_VARIABLES = ("IL_ENABLE_AUDIT_LOGS", "IL_ENABLE_BQ_LOGS")
TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})
BOOL_RULE: Final = "must be one of 1/true/yes/on or 0/false/no/off"
# Variables in other units than their field: raw value -> the field's unit.
UNIT_CONVERSIONS: Final = {"IL_AUDIT_FLUSH_INTERVAL_SECONDS": 1000.0}

# setting name -> defaults.json key, where the key is 0.1.3's and not the name.
DEFAULT_KEYS = {
    "enabled": "enable_audit_logs",
    "dataset": "bq_audit_dataset",
    "dataset_location": "bq_dataset_location",
}


class Read(NamedTuple):
    values: dict[str, Any]
    from_env: dict[str, tuple[str, str]]
    """field -> (variable, raw value) for values taken from the environment."""
    problems: list[Problem]


def read_values(
    model: type[BaseModel], env: Mapping[str, str], defaults: Mapping[str, Any]
) -> Read:
    """Raw values by setting name: bundled defaults overlaid with the environment."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    paths = setting_paths(model)
    for name in paths:
        key = DEFAULT_KEYS.get(name, name)
        if key in defaults:
            values[name] = defaults[key]
            origins[name] = f"defaults.json key {key!r}"
    switches = _bool_settings(model)
    problems: list[Problem] = []
    from_env: dict[str, tuple[str, str]] = {}
    for name, variables in ENV_BINDINGS.items():
        found = first_set(env, variables)
        if found is None:
            continue
        variable, raw = found
        # Parsed with TRUE_WORDS/FALSE_WORDS (pydantic alone would also take "t" or "y").
        if name in switches and raw.lower() not in TRUE_WORDS | FALSE_WORDS:
            problems.append(Problem(name, variable, raw, BOOL_RULE))
            continue
        values[name] = _convert(variable, raw)
        origins[name] = f"environment variable {variable}"
        from_env[name] = found
    enabled = []
    for variable in ENABLE_VARIABLES:
        raw = env.get(variable, "").strip()
        if raw.lower() in TRUE_WORDS | FALSE_WORDS:
            enabled.append(raw.lower() in TRUE_WORDS)
        elif raw:
            problems.append(Problem("enabled", variable, raw, BOOL_RULE))
    if enabled:
        values["enabled"] = all(enabled)
        origins["enabled"] = "environment variables " + "/".join(ENABLE_VARIABLES)
    values["managed_runtime"] = detect_managed_runtime(env)
    values["origins"] = origins
    return Read(values, from_env, problems)


def _bool_settings(model: type[BaseModel]) -> frozenset[str]:
    sections = section_types(model)
    return frozenset(
        name
        for name, (section, field) in setting_paths(model).items()
        if section and sections[section].model_fields[field].annotation is bool
    )


def _convert(variable: str, raw: str) -> str:
    """``raw`` in the field's unit (e.g. seconds to ms); left as is when not a number."""
    factor = UNIT_CONVERSIONS.get(variable)
    if factor is None:
        return raw
    try:
        return repr(float(raw) * factor)
    except ValueError:
        return raw  # validation names the variable and its value


class Problem(NamedTuple):
    """One unusable value: which setting, which variable, what it held, which rule it broke."""

    field: str
    """The setting's name (``spool_dir``)."""
    variable: str
    value: str
    rule: str

    @property
    def text(self) -> str:
        return f"{self.variable}={self.value!r} is not valid: {self.rule}"


def first_set(env: Mapping[str, str], variables: tuple[str, ...]) -> tuple[str, str] | None:
    for variable in variables:
        raw = env.get(variable, "").strip()
        if raw:
            return variable, raw
    return None


def env_problems(
    model: type[BaseModel], error: ValidationError, from_env: Mapping[str, tuple[str, str]]
) -> list[Problem] | None:
    """The validation errors as problems of environment values (None if one is not)."""
    found: dict[str, Problem] = {}
    for item in error.errors(include_url=False):
        name = name_at(model, item["loc"])
        if name is None or name not in from_env:
            return None
        variable, raw = from_env[name]
        found.setdefault(name, Problem(name, variable, raw, str(item["msg"])))
    return list(found.values())


def settings_error(problems: list[Problem]) -> SettingsError:
    return SettingsError(
        "invalid il-audit settings: " + "; ".join(problem.text for problem in problems)
    )


def fallback_text(problem: Problem, settings: BaseModel) -> str:
    """What a lenient reader does instead of using ``problem``'s value."""
    section, field = path_of(type(settings), problem.field)
    value = getattr(getattr(settings, section), field) if section else getattr(settings, field)
    if problem.field == "enabled":
        return "ignored, auditing stays on" if value else "ignored"
    return f"using the default {value!r}"


@functools.cache
def bundled_defaults() -> Mapping[str, Any]:
    """The ``defaults.json`` shipped inside the package, parsed once."""
    text = resources.files("il_audit.config").joinpath("defaults.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise SettingsError("il_audit/config/defaults.json must hold a JSON object")
    return data


def strict_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``IL_AUDIT_STRICT`` in ``environ`` (default ``os.environ``) asks for strict mode.

    Anything unrecognised is no. Read on every call, not cached with the settings.
    """
    env = os.environ if environ is None else environ
    return env.get("IL_AUDIT_STRICT", "").strip().lower() in TRUE_WORDS
