"""The sink protocol: a few calls that every warehouse implements the same way."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from il_audit.config.settings import AuditSettings, SinkKind

Row = Mapping[str, Any]


class Sink(Protocol):
    """A warehouse holding the events, dead_letters and cost_rates tables.

    Every call may raise :class:`~il_audit.subscriber_fn.errors.SinkUnavailableError`
    (retry the message later). Writes are idempotent: rows are keyed by
    ``event_id`` / ``dead_letter_id`` / ``(service, model_id, effective_from)``.
    """

    name: str

    def ensure_tables(self) -> None:
        """Create the dataset and tables that are missing (cheap after the first call)."""
        ...

    def write_events(self, rows: Sequence[Row]) -> dict[int, str]:
        """Insert event rows; returns ``{index: reason}`` for rows refused permanently."""
        ...

    def write_dead_letters(self, rows: Sequence[Row]) -> None:
        """Insert dead-letter rows."""
        ...

    def read_cost_rates(self) -> list[dict[str, Any]]:
        """Every row of the cost_rates table."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def redact_values(message: str) -> str:
    """A warehouse error message with quoted fragments (often the offending value) removed.

    Such messages end up in logs and in ``dead_letters.error_detail``, which must
    never carry event payloads.
    """
    return _QUOTED.sub("'<value>'", message)


def json_default(value: Any) -> Any:
    """JSON for the Python types rows carry: timestamps, dates and exact decimals."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, ascii_only: bool = False) -> str:
    """Compact JSON with :func:`json_default` (``ascii_only`` escapes lone surrogates too)."""
    return json.dumps(value, default=json_default, separators=(",", ":"), ensure_ascii=ascii_only)


def create_sink(settings: AuditSettings) -> Sink:
    """The sink ``IL_AUDIT_SINK`` names (imports its client library only when chosen)."""
    if settings.sink is SinkKind.DUCKDB:
        from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink

        return DuckDBSink(settings.duckdb_path, retention_days=settings.retention_days)
    from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink

    return BigQuerySink.from_settings(settings)
