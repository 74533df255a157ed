"""Where the subscriber writes: BigQuery (production) or DuckDB (embedded), behind one protocol.

``base`` is the protocol; :func:`create_sink` picks the implementation the
settings name and imports its client library only then.
"""

from __future__ import annotations

from il_audit.config.settings import AuditSettings, SinkKind
from il_audit.subscriber_fn.sinks.base import Row, Sink


def create_sink(settings: AuditSettings) -> Sink:
    """The sink ``IL_AUDIT_SINK`` names."""
    if settings.sink is SinkKind.DUCKDB:
        from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink

        return DuckDBSink(
            settings.duckdb_path,
            retention_days=settings.retention_days,
            memory_limit=settings.duckdb_memory_limit,
            retention=settings.retention,
        )
    from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink

    return BigQuerySink.from_settings(settings)


__all__ = ["Row", "Sink", "create_sink"]
