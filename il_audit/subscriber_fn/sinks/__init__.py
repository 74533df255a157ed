"""Where the subscriber writes: BigQuery (production) or DuckDB (embedded), behind one protocol."""

from il_audit.subscriber_fn.sinks.base import Sink, create_sink

__all__ = ["Sink", "create_sink"]
