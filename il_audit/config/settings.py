"""Runtime settings: one immutable object in sections, built by one loader.

Precedence is environment first, then ``defaults.json`` shipped in this
package; nothing is hard-coded elsewhere. ``ENV_BINDINGS`` (in
``_environment``) names the variables of every setting, the sections
(:mod:`il_audit.config.sections`) their types, ranges and meaning, and
``docs/settings.md`` is generated from both (``il-audit schema settings``).

:class:`AuditSettings` holds one frozen section per component
(``settings.publisher``, ``settings.spool``, ...); the flat names the code and
host apps have always read (``settings.spool_dir``, 0.1.3's ``bq_dataset``)
stay available as read-only attributes, and keyword construction or
``model_validate`` with flat names keeps working.

A bad value is treated differently by who reads it, and the reader says which
by a parameter: an app (``get_audit_settings()``) logs one error naming the
variable, the value and the default it uses instead, and keeps auditing (a typo
in a tuning variable must never switch auditing off); strict mode
(``IL_AUDIT_STRICT``), the CLI and the subscriber read with ``strict=True``
and get :class:`~il_audit.errors.SettingsError`, with the same message.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from il_audit.config._environment import (
    DEFAULT_KEYS,
    ENABLE_VARIABLES,
    ENV_BINDINGS,
    Problem,
    bundled_defaults,
    env_problems,
    fallback_text,
    read_values,
    settings_error,
    strict_requested,
)
from il_audit.config._names import Flat, nest, path_of, section_types
from il_audit.config.audit_environment import environment_label
from il_audit.config.sections import (
    BeaconLimits,
    BigQueryWriteMethod,
    ChatSettings,
    Compression,
    CostRatesSource,
    PrivacySettings,
    PublisherSettings,
    PubSubSettings,
    SinkKind,
    SpoolSettings,
    SubscriberSettings,
    Transport,
    WarehouseSettings,
)
from il_audit.errors import SettingsError
from il_audit.schemas.retention import RetentionPolicy
from il_audit.schemas.wire import PUBSUB_MESSAGE_LIMIT_BYTES

logger = logging.getLogger(__name__)

__all__ = [
    "ENABLE_VARIABLES",
    "ENV_BINDINGS",
    "PUBSUB_MESSAGE_LIMIT_BYTES",
    "AuditSettings",
    "BigQueryWriteMethod",
    "Compression",
    "CostRatesSource",
    "SinkKind",
    "Transport",
    "bundled_defaults",
    "get_audit_settings",
    "reset_audit_settings_cache",
    "strict_requested",
]


class AuditSettings(BaseModel):
    """Every il-audit setting, validated once, in one frozen section per component.

    Build it with :meth:`from_env` (or :func:`get_audit_settings`, which caches
    one per process); in tests, ``model_validate`` a dump with overrides by
    flat name. ``docs/settings.md`` lists every setting.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str | None = Field(
        default=None,
        description="GCP project of the topic and the dataset; otherwise google.auth.default() "
        "finds it on Google's runtimes.",
        json_schema_extra={"read_by": "publisher (Pub/Sub), subscriber (BigQuery), infra, dlq"},
    )
    publisher: PublisherSettings
    pubsub: PubSubSettings
    subscriber: SubscriberSettings
    warehouse: WarehouseSettings
    spool: SpoolSettings
    privacy: PrivacySettings
    chat: ChatSettings
    beacon: BeaconLimits
    managed_runtime: str | None = Field(
        default=None,
        description="The variable that marks a managed Google runtime (K_SERVICE, "
        "CLOUD_RUN_JOB, FUNCTION_TARGET, GAE_SERVICE), when one is set.",
    )
    origins: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,
        description="Where each value came from (setting name -> variable or defaults.json key).",
    )

    # ----- flat names, read-only: settings.spool_dir is settings.spool.dir. One line each;
    # Flat() reads the setting of the attribute's name, Flat("name") another one. -----
    enabled: ClassVar[Flat[bool]] = Flat()
    transport: ClassVar[Flat[Transport]] = Flat()
    app: ClassVar[Flat[str | None]] = Flat()
    environment: ClassVar[Flat[str | None]] = Flat()
    app_version: ClassVar[Flat[str | None]] = Flat()
    environment_map: ClassVar[Flat[dict[str, str]]] = Flat()
    write_queue_max_size: ClassVar[Flat[int]] = Flat()
    write_queue_max_bytes: ClassVar[Flat[int]] = Flat()
    max_events_per_message: ClassVar[Flat[int]] = Flat()
    max_message_bytes: ClassVar[Flat[int]] = Flat()
    compression: ClassVar[Flat[Compression]] = Flat()
    max_latency_ms: ClassVar[Flat[float]] = Flat()
    shutdown_timeout_seconds: ClassVar[Flat[float]] = Flat()
    heartbeat_seconds: ClassVar[Flat[float]] = Flat()
    retry_initial_seconds: ClassVar[Flat[float]] = Flat()
    retry_max_seconds: ClassVar[Flat[float]] = Flat()
    strict: ClassVar[Flat[bool]] = Flat()
    extra_event_types: ClassVar[Flat[tuple[str, ...]]] = Flat()
    job_context_max_bindings: ClassVar[Flat[int]] = Flat()
    job_context_binding_ttl_seconds: ClassVar[Flat[float]] = Flat()
    topic: ClassVar[Flat[str]] = Flat()
    dlq_topic: ClassVar[Flat[str]] = Flat()
    subscription_max_delivery_attempts: ClassVar[Flat[int]] = Flat()
    subscription_min_backoff_seconds: ClassVar[Flat[int]] = Flat()
    subscription_max_backoff_seconds: ClassVar[Flat[int]] = Flat()
    subscription_ack_deadline_seconds: ClassVar[Flat[int]] = Flat()
    dlq_max_replays: ClassVar[Flat[int]] = Flat()
    cost_rates_source: ClassVar[Flat[CostRatesSource]] = Flat()
    cost_rates_cache_seconds: ClassVar[Flat[float]] = Flat()
    max_rejects_per_message: ClassVar[Flat[int]] = Flat()
    sink: ClassVar[Flat[SinkKind]] = Flat()
    dataset: ClassVar[Flat[str]] = Flat()
    dataset_location: ClassVar[Flat[str]] = Flat()
    bq_api_endpoint: ClassVar[Flat[str | None]] = Flat()
    bq_write_method: ClassVar[Flat[BigQueryWriteMethod]] = Flat()
    bq_storage_api_endpoint: ClassVar[Flat[str | None]] = Flat()
    duckdb_path: ClassVar[Flat[str]] = Flat()
    duckdb_memory_limit: ClassVar[Flat[str]] = Flat()
    retention_days: ClassVar[Flat[int | None]] = Flat()
    retention_days_by_family: ClassVar[Flat[dict[str, int]]] = Flat()
    spool_dir: ClassVar[Flat[str | None]] = Flat()
    spool_max_bytes: ClassVar[Flat[int]] = Flat()
    hash_key: ClassVar[Flat[SecretStr | None]] = Flat()
    pseudonymize_email: ClassVar[Flat[bool]] = Flat()
    hash_key_id: ClassVar[Flat[str | None]] = Flat()
    store_query_text: ClassVar[Flat[bool]] = Flat()
    store_model_call_text: ClassVar[Flat[bool]] = Flat()
    store_retrieval_candidates: ClassVar[Flat[bool]] = Flat()
    beacon_window_seconds: ClassVar[Flat[float]] = Flat()
    beacon_max_requests_per_window: ClassVar[Flat[int]] = Flat()
    beacon_max_refusals_per_window: ClassVar[Flat[int]] = Flat()
    beacon_rate_limit_max_keys: ClassVar[Flat[int]] = Flat()
    beacon_metadata_max_bytes: ClassVar[Flat[int]] = Flat()
    beacon_string_max_length: ClassVar[Flat[int]] = Flat()
    beacon_max_events_per_request: ClassVar[Flat[int]] = Flat()
    beacon_max_body_bytes: ClassVar[Flat[int]] = Flat()
    beacon_trusted_proxy_hops: ClassVar[Flat[int]] = Flat()
    beacon_script_max_age_seconds: ClassVar[Flat[int]] = Flat()

    # ----- 0.1.3's attribute names (il_audit.config.audit_settings.AuditSettings) -----
    bq_dataset: ClassVar[Flat[str]] = Flat("dataset")
    bq_dataset_location: ClassVar[Flat[str]] = Flat("dataset_location")
    enable_audit_logs: ClassVar[Flat[bool]] = Flat("enabled")
    flush_batch_size: ClassVar[Flat[int]] = Flat("max_events_per_message")
    """0.1.3's name: now the events packed per message."""

    @property
    def bq_project(self) -> str:
        """0.1.3's name: the project (``""`` when none, as 0.1.3 said it)."""
        return self.project or ""

    @property
    def audit_environment(self) -> str | None:
        """1.0.35's name: the label stamped on events (``environment``), resolved as
        :mod:`il_audit.config.audit_environment` says (``IL_AUDIT_ENVIRONMENT`` as given,
        ``dev-local`` off a managed runtime, else ``IL_AUDIT_ENVIRONMENT_MAP``'s label)."""
        return self.environment_for(self.project)

    def environment_for(self, project: str | None) -> str | None:
        """:attr:`audit_environment` for events published to ``project`` (the project the
        Pub/Sub transport found, where no project variable names one)."""
        return environment_label(
            self.publisher.environment,
            managed_runtime=self.managed_runtime,
            project=self.project or project,
            environment_map=self.publisher.environment_map,
        )

    @property
    def flush_interval_seconds(self) -> float:
        """0.1.3's name: now the longest a message waits to fill (:attr:`max_latency_ms`)."""
        return self.max_latency_seconds

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse every assignment, flat names included, as pydantic refuses a frozen field."""
        if isinstance(getattr(type(self), name, None), Flat):
            raise ValidationError.from_exception_data(
                type(self).__name__, [{"type": "frozen_instance", "loc": (name,), "input": value}]
            )
        super().__setattr__(name, value)

    @model_validator(mode="before")
    @classmethod
    def _settings_by_name(cls, data: Any) -> Any:
        """Values given by flat name (``transport="memory"``) go into their section."""
        return nest(cls, data) if isinstance(data, Mapping) else data

    @property
    def retention(self) -> RetentionPolicy:
        """``IL_AUDIT_RETENTION_DAYS`` and its per-family overrides, as one policy
        (``docs/retention.md``): what each family keeps, the deletes, the partition expiry."""
        return RetentionPolicy(
            self.warehouse.retention_days, self.warehouse.retention_days_by_family
        )

    @property
    def max_latency_seconds(self) -> float:
        """``max_latency_ms`` in seconds."""
        return self.publisher.max_latency_ms / 1000.0

    @property
    def resolved_transport(self) -> Transport:
        """The transport ``auto`` stands for.

        Pub/Sub on a managed Google runtime (whose disk goes away with the
        instance, so an embedded file there would lose every event) or with a
        project variable; the embedded file otherwise, so that a laptop logged
        in with gcloud never publishes to whatever project gcloud points at.
        """
        if not self.publisher.enabled:
            return Transport.OFF
        if self.publisher.transport is Transport.AUTO:
            if self.managed_runtime or self.project:
                return Transport.PUBSUB
            return Transport.LOCAL
        return self.publisher.transport

    def value(self, name: str) -> Any:
        """The value of a setting given by name (``spool_dir``) or path (``spool.dir``)."""
        section, field = path_of(type(self), name)
        return getattr(getattr(self, section), field) if section else getattr(self, field)

    def origin(self, name: str) -> str:
        """Where a setting's value came from, for humans (``il-audit doctor``)."""
        section, field = path_of(type(self), name)
        key = section_types(type(self))[section].prefix + field if section else field
        return self.origins.get(key, "the built-in default")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied (not validated); settings may be given by flat name."""
        if update:
            nested = nest(type(self), update)
            for section in section_types(type(self)):
                fields = nested.get(section)
                if isinstance(fields, Mapping):
                    nested[section] = getattr(self, section).model_copy(update=fields)
            update = nested
        return super().model_copy(update=update, deep=deep)

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
                invalid = env_problems(cls, exc, from_env)
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
        dependent = _dependent_problems(settings, from_env)
        if (problems or dependent) and not lenient:
            raise settings_error(problems + dependent)
        for problem in problems:
            logger.error("il-audit: %s; %s", problem.text, fallback_text(problem, settings))
        for problem in dependent:
            logger.error("il-audit: %s; %s", problem.text, _DEPENDENT_FALLBACK[problem.field])
        return settings


_DEPENDENT_FALLBACK: Final = {
    "pseudonymize_email": "events carry no actor e-mail at all until the key is set "
    "(never one in clear)",
}
"""What a lenient reader does with a setting another one leaves unusable."""


def _dependent_problems(
    settings: AuditSettings, from_env: Mapping[str, tuple[str, str]]
) -> list[Problem]:
    """Settings valid on their own that another setting makes unusable.

    Pydantic checks each value; these rules read two. They are checked after
    validation, so a lenient reader (an app) keeps the value and the safe
    behaviour its rule states (``_DEPENDENT_FALLBACK``), where falling back to
    the default would store the e-mail in clear, the opposite of what was asked.
    """
    found = []
    privacy = settings.privacy
    if privacy.pseudonymize_email and privacy.hash_key is None:
        variable, raw = from_env.get(
            "pseudonymize_email", (ENV_BINDINGS["pseudonymize_email"][0], "true")
        )
        rule = f"it needs a key: set {ENV_BINDINGS['hash_key'][0]}"
        found.append(Problem("pseudonymize_email", variable, raw, rule))
    return found


@functools.cache
def _process_settings(strict: bool) -> AuditSettings:
    return AuditSettings.from_env(lenient=not strict)


def get_audit_settings(*, strict: bool | None = None) -> AuditSettings:
    """The process-wide settings, built from the environment on first use.

    Lenient by default, as an app needs: a bad value is logged once and its
    default used. ``strict=True`` (the CLI, the subscriber) raises
    :class:`~il_audit.errors.SettingsError` instead; ``None`` means strict
    when ``IL_AUDIT_STRICT`` asks for it.
    """
    return _process_settings(strict_requested() if strict is None else strict)


def reset_audit_settings_cache() -> None:
    """Forget cached settings so the next :func:`get_audit_settings` rereads the environment."""
    _process_settings.cache_clear()
