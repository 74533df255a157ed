"""The settings' choices: string enums for modes (``IL_AUDIT_TRANSPORT=pubsub``).

Kept apart from :mod:`il_audit.config.sections`, which re-exports them (their import
path), so that the sections module stays small.
"""

from __future__ import annotations

from enum import StrEnum


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
