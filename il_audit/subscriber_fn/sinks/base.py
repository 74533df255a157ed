"""The sink protocol: the calls every warehouse implements the same way, and nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Row = Mapping[str, Any]


class Sink(Protocol):
    """A warehouse holding the events, dead_letters and cost_rates tables.

    Every call may raise :class:`~il_audit.subscriber_fn.errors.SinkUnavailableError`
    (retry the message later). Writes are idempotent: rows are keyed by
    ``event_id`` / ``dead_letter_id`` / ``(service, model_id, effective_from)``.
    """

    name: str

    def ensure_tables(self) -> None:
        """Create what is missing (dataset, tables, new columns); cheap after the first call."""
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

    def upsert_cost_rates(self, rows: Sequence[Row]) -> None:
        """Insert or replace cost_rates rows (keyed by service, model_id, effective_from)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
