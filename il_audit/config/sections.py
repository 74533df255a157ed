"""The sections of :class:`~il_audit.config.AuditSettings`: one frozen model per component.

Each section holds what one component reads (``settings.publisher``,
``settings.spool``, ...). Every setting also has a flat *name*: the section's
``prefix`` plus its field (``spool`` + ``dir`` is ``spool_dir``). That name is
its key in ``ENV_BINDINGS`` and ``defaults.json``, in ``origins``, and its flat
attribute on ``AuditSettings`` where one is declared. Descriptions here are the
text of ``docs/settings.md`` and the beacon doc's settings table, which are
generated from these classes (``il-audit schema settings --write``);
``read_by`` says which component reads a setting when not the whole section's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from il_audit.config._choices import (
    BigQueryWriteMethod,
    Compression,
    CostRatesSource,
    SinkKind,
    Transport,
)
from il_audit.schemas.retention import check_family_days, parse_family_days
from il_audit.schemas.wire import MAX_LINES_PER_MESSAGE, PUBSUB_MESSAGE_LIMIT_BYTES

__all__ = [
    "BeaconLimits",
    "BigQueryWriteMethod",
    "ChatSettings",
    "Compression",
    "CostRatesSource",
    "PrivacySettings",
    "PubSubSettings",
    "PublisherSettings",
    "Section",
    "SinkKind",
    "SpoolSettings",
    "SubscriberSettings",
    "Transport",
    "WarehouseSettings",
]


def parse_environment_map(text: str) -> dict[str, str]:
    """``"proj-a=production, proj-b=staging"`` as a dict; a pair without ``=`` or with a
    blank side raises ValueError (named by the settings loader with the variable)."""
    mapping: dict[str, str] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        project, equals, label = (part.strip() for part in pair.partition("="))
        if not equals or not project or not label:
            raise ValueError(f"{pair.strip()!r} is not a project=label pair")
        mapping[project] = label
    return mapping


def reader(component: str, *, accepts: str | None = None) -> dict[str, Any]:
    """``json_schema_extra`` for docs/settings.md: the component that reads one field, and
    (where the type does not say it well) what values it accepts."""
    extra = {"read_by": component}
    if accepts is not None:
        extra["accepts"] = accepts
    return extra


class Section(BaseModel):
    """A frozen group of settings read by one component."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefix: ClassVar[str] = ""
    """The settings' names are ``prefix + field`` (keys of ENV_BINDINGS and defaults.json)."""
    read_by: ClassVar[str] = ""
    """Which component reads the section (docs/settings.md)."""

    @field_validator("*", mode="before")
    @classmethod
    def _normalise(cls, value: Any, info: ValidationInfo) -> Any:
        """Blank optional text is unset; a choice ignores case ("BigQuery" is "bigquery")."""
        if not isinstance(value, str):
            return value
        annotation = cls.model_fields[str(info.field_name)].annotation
        if isinstance(annotation, type) and issubclass(annotation, StrEnum):
            return value.strip().lower()
        if annotation == str | None and not value.strip():
            return None
        return value


class PublisherSettings(Section):
    """What ``emit()`` does in an app: where events go, what they carry, how they are packed."""

    read_by: ClassVar[str] = "publisher"

    enabled: bool = Field(
        description="Master switch; off makes `emit()` a no-op returning `None`. Only a "
        "recognised off word turns it off."
    )
    transport: Transport = Field(
        description="Where `emit()` sends events: `auto`, `pubsub`, `local`, `memory`, `off`; "
        "`auto` is `pubsub` on a managed Google runtime or with a project, else `local`."
    )
    app: str | None = Field(default=None, description="App name when no context gives one.")
    environment: str | None = Field(
        default=None,
        description="Deployment environment stamped on events, kept as given; unset, it is "
        "`dev-local` off a managed runtime, else the project's label in "
        "`IL_AUDIT_ENVIRONMENT_MAP`.",
    )
    app_version: str | None = Field(
        default=None, description="App version stamped on events when no context gives one."
    )
    environment_map: dict[str, str] = Field(
        default_factory=dict,
        description="On a managed runtime without `IL_AUDIT_ENVIRONMENT`: the environment "
        "label of each GCP project, as comma-separated `project=label` pairs (a JSON object in "
        "defaults.json). Off a managed runtime the label is `dev-local`; an unmapped project "
        "leaves events unlabelled.",
        json_schema_extra=reader("publisher", accepts="comma-separated `project=label` pairs"),
    )
    write_queue_max_size: int = Field(
        ge=1, description="Events accepted and not yet published before drops start."
    )
    write_queue_max_bytes: int = Field(
        description="Encoded bytes the publisher may hold in memory (the message being packed, "
        "messages in flight or waiting to retry); an event that would pass it is dropped and "
        "counted, unless nothing is held. `0` or less turns the bound off.",
    )
    max_events_per_message: int = Field(
        ge=1, le=10_000, description="Envelopes packed into one Pub/Sub message (`1` works too)."
    )
    max_message_bytes: int = Field(
        ge=1024, le=PUBSUB_MESSAGE_LIMIT_BYTES, description="Bytes packed into one message."
    )
    compression: Compression = Field(
        description="Message bodies of 1 KiB or more go to Pub/Sub as gzip (`none`: plain "
        "NDJSON); the subscriber reads both ([wire contract](docs/wire-contract.md))."
    )
    max_latency_ms: float = Field(
        gt=0, le=60_000, description="Longest a partly filled message waits for more events."
    )
    shutdown_timeout_seconds: float = Field(
        ge=0, description="Deadline of the flush the exit hook runs."
    )
    heartbeat_seconds: float = Field(
        ge=0,
        description="Every so many seconds, when it emitted anything since the last one, and "
        "at shutdown, each publisher emits an `audit.publisher.heartbeat` event with its "
        "counters (docs/completeness.md); `0` turns heartbeats off.",
    )
    retry_initial_seconds: float = Field(gt=0, description="First publish retry delay.")
    retry_max_seconds: float = Field(gt=0, description="Longest publish retry delay.")
    strict: bool = Field(
        description="Raise on invalid events, full queues and bad settings instead of counting "
        "and logging them (tests)."
    )
    extra_event_types: tuple[str, ...] = Field(
        default=(),
        description="Host event types accepted besides the taxonomy, comma-separated; "
        "`prefix.*` allowed.",
        json_schema_extra=reader("publisher, subscriber", accepts="comma-separated event types"),
    )
    job_context_max_bindings: int = Field(
        ge=1,
        description="Job contexts `bind_job_audit_context` remembers.",
        json_schema_extra=reader("job context"),
    )
    job_context_binding_ttl_seconds: float = Field(
        gt=0,
        description="How long a job context binding lives.",
        json_schema_extra=reader("job context"),
    )

    @field_validator("environment_map", mode="before")
    @classmethod
    def _split_environment_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_environment_map(value)
        return value

    @field_validator("extra_event_types", mode="before")
    @classmethod
    def _split_event_types(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


class PubSubSettings(Section):
    """The topics, and the policy `il-audit infra apply` gives the function's subscription."""

    read_by: ClassVar[str] = "publisher, subscriber, infra, dlq"

    topic: str = Field(
        min_length=3,
        description="Events topic id.",
        json_schema_extra=reader("publisher, infra, dlq replay"),
    )
    dlq_topic: str = Field(
        min_length=3,
        description="Dead-letter topic id.",
        json_schema_extra=reader("subscriber, infra, dlq"),
    )
    subscription_max_delivery_attempts: int = Field(
        ge=5,
        le=100,
        json_schema_extra=reader("infra apply"),
        description="Deliveries before Pub/Sub dead-letters a message itself.",
    )
    subscription_min_backoff_seconds: int = Field(
        ge=0,
        le=600,
        json_schema_extra=reader("infra apply"),
        description="Shortest redelivery backoff.",
    )
    subscription_max_backoff_seconds: int = Field(
        ge=0,
        le=600,
        json_schema_extra=reader("infra apply"),
        description="Longest redelivery backoff.",
    )
    subscription_ack_deadline_seconds: int = Field(
        ge=10,
        le=600,
        json_schema_extra=reader("infra apply"),
        description="Ack deadline of the function's subscription.",
    )
    dlq_max_replays: int = Field(
        ge=1,
        description="Replays of one dead letter before `il-audit dlq replay` refuses it.",
        json_schema_extra=reader("dlq replay"),
    )


class SubscriberSettings(Section):
    """What the subscriber (function, pull worker, embedded mode) does with each message."""

    read_by: ClassVar[str] = "subscriber"

    cost_rates_source: CostRatesSource = Field(
        description="Pricing catalog: `seed` (bundled) or `bigquery` (the `cost_rates` table).",
        json_schema_extra=reader("subscriber, il-audit rates"),
    )
    cost_rates_cache_seconds: float = Field(ge=0, description="Pricing catalog cache TTL.")
    max_rejects_per_message: int = Field(
        ge=1,
        le=MAX_LINES_PER_MESSAGE,
        description="Rejected lines of one message dead-lettered one by one; past it the "
        "message is dead-lettered once, whole (`too_many_rejects`), and its good lines are "
        "still stored.",
    )


class WarehouseSettings(Section):
    """Where rows live: BigQuery, or the embedded DuckDB file."""

    read_by: ClassVar[str] = "subscriber sinks, infra, migrate, report"

    sink: SinkKind = Field(
        description="Where the subscriber writes rows: `bigquery` or `duckdb`.",
        json_schema_extra=reader("subscriber"),
    )
    dataset: str = Field(description="BigQuery dataset.")
    dataset_location: str = Field(
        description="BigQuery dataset location.", json_schema_extra=reader("infra, migrate")
    )
    bq_api_endpoint: str | None = Field(
        default=None, description="BigQuery API endpoint override (a local stand-in)."
    )
    bq_write_method: BigQueryWriteMethod = Field(
        description="How the subscriber writes to BigQuery: `storage_write` (the Storage Write "
        "API's default stream) or `insert_all` (legacy streaming inserts).",
        json_schema_extra=reader("subscriber"),
    )
    bq_storage_api_endpoint: str | None = Field(
        default=None,
        description="Storage Write API (gRPC) `host:port` override, reached in plaintext with "
        "anonymous credentials (a local stand-in).",
        json_schema_extra=reader("subscriber"),
    )
    duckdb_path: str = Field(
        description="Embedded warehouse file.",
        json_schema_extra=reader("local transport, DuckDB sink, query, report, rates, doctor"),
    )
    duckdb_memory_limit: str = Field(
        pattern=r"(?i)^\s*\d+(\.\d+)?\s*[KMGT]i?B\s*$",
        description="DuckDB's `memory_limit` on every connection il-audit opens (DuckDB's own "
        "default: 80 % of RAM); primary-key indexes count against it, and past it writes "
        "fail, naming this setting, and are retried "
        "([reliability](docs/reliability.md#pull-worker-soak)).",
        json_schema_extra=reader(
            "DuckDB sink, query, report", accepts="a size such as `512MB` or `2GiB`"
        ),
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Days events and dead letters are kept unless their family says "
        "otherwise; unset keeps them forever ([retention](docs/retention.md)).",
        json_schema_extra=reader("subscriber sinks, infra, retention, doctor"),
    )
    retention_days_by_family: dict[str, int] = Field(
        default_factory=dict,
        description="Days per event family, over `IL_AUDIT_RETENTION_DAYS`: comma-separated "
        "`family=days` pairs (a JSON object in defaults.json), a family being an event-type "
        "prefix on dots (`chat.model_call=30,auth=400`; the most specific wins) or "
        "`dead_letters`. Applied by scheduled deletes; partition expiry is the longest.",
        json_schema_extra=reader(
            "DuckDB sink, retention, infra, doctor, report", accepts="`family=days` pairs"
        ),
    )

    @field_validator("retention_days_by_family", mode="before")
    @classmethod
    def _split_family_days(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_family_days(value)
        if isinstance(value, dict):
            return check_family_days(value)
        return value


class SpoolSettings(Section):
    """The publisher's disk spool for outages and restarts."""

    prefix: ClassVar[str] = "spool_"
    read_by: ClassVar[str] = "publisher, doctor"

    dir: str | None = Field(
        default=None,
        description="Directory of the disk spool that keeps unpublished messages across "
        "outages and restarts; off when unset.",
    )
    max_bytes: int = Field(
        ge=1024 * 1024,
        description="Bytes the whole spool directory may hold; past it messages are dropped "
        "and counted.",
    )


PRIVACY_READERS = (
    "publisher (chat questions, pseudonymised e-mails), beacon router (client addresses)"
)


class PrivacySettings(Section):
    """Keys that protect what events carry."""

    read_by: ClassVar[str] = PRIVACY_READERS

    hash_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC-SHA-256 for chat questions (`question_hmac`) and beacon "
        "client addresses; never logged. Without it no client address is stored.",
        json_schema_extra=reader(PRIVACY_READERS, accepts="text (a secret), or unset"),
    )
    pseudonymize_email: bool = Field(
        description="Store no `actor_email`: the publisher sends `actor_email_hmac` instead, "
        "`<key id>:<HMAC-SHA-256 of the trimmed, lowercased e-mail>` under "
        "`IL_AUDIT_HASH_KEY`, which it then requires "
        "([pseudonymisation](docs/pseudonymisation.md)).",
        json_schema_extra=reader("publisher"),
    )
    hash_key_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="Id of `IL_AUDIT_HASH_KEY`, written before each `actor_email_hmac` so "
        "that keys can be rotated; unset, `k` and the first 8 hex digits of the key's "
        "SHA-256.",
        json_schema_extra=reader(
            "publisher", accepts="1-32 letters, digits, `_`, `.` or `-`, or unset"
        ),
    )


class ChatSettings(Section):
    """What chat turn and model call events may record."""

    read_by: ClassVar[str] = "chat"

    store_query_text: bool = Field(
        description="Store chat questions (and retrieval queries) verbatim; `false` keeps "
        "only their length and hash."
    )
    store_model_call_text: bool = Field(
        description="Record prompt and completion text of model calls (`chat.model_call.text`)."
    )
    store_retrieval_candidates: bool = Field(
        description="Record a turn's retrieval: one event per candidate and per chunk, and "
        "each search pass's settings (`chat.retrieval.*`); chunk text is never stored."
    )


class BeaconLimits(Section):
    """Limits and knobs of the browser beacon endpoint (the seed's 1.0 names and defaults)."""

    prefix: ClassVar[str] = "beacon_"
    read_by: ClassVar[str] = "beacon router"

    window_seconds: float = Field(gt=0, le=86_400, description="Rate-limit sliding window.")
    max_requests_per_window: int = Field(
        ge=1,
        le=100_000,
        description="Requests one key (actor or client address) may make per window.",
    )
    max_refusals_per_window: int = Field(
        ge=1,
        le=100_000,
        description="Refusals (4xx but 429) one client address may cause per window before it "
        "gets 429 without its body being read.",
    )
    rate_limit_max_keys: int = Field(
        ge=1, le=10_000_000, description="Keys remembered; the oldest are evicted."
    )
    metadata_max_bytes: int = Field(
        ge=2, le=1_048_576, description="Compact JSON bytes of an item's metadata."
    )
    string_max_length: int = Field(
        ge=1, le=65_536, description="Characters per string field of an item."
    )
    max_events_per_request: int = Field(ge=1, le=10_000, description="Items per request.")
    max_body_bytes: int = Field(
        ge=1024, le=67_108_864, description="Largest request body, enforced while reading."
    )
    trusted_proxy_hops: int = Field(
        ge=0,
        le=32,
        description="Proxies in front of the app whose `X-Forwarded-For` entries are believed; "
        "0 ignores the header.",
    )
    script_max_age_seconds: int = Field(
        ge=0, le=31_536_000, description="`max-age` of the served script."
    )
