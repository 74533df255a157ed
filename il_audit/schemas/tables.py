"""Warehouse table specs derived from the row models, in BigQuery's own vocabulary.

:data:`EVENTS`, :data:`DEAD_LETTERS` and :data:`COST_RATES` are computed from
``rows.py`` at import, so adding a field to a model adds the column. The JSON
form (:meth:`TableSpec.schema_json`) is what ``bq mk --schema`` and Terraform
read; the subscriber's sinks translate the same specs for BigQuery and DuckDB.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from il_audit.schemas.rows import CostRateRow, DeadLetterRow, EventRow

BigQueryType = Literal[
    "STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "NUMERIC", "JSON", "RECORD"
]
Mode = Literal["NULLABLE", "REQUIRED", "REPEATED"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column: BigQuery type and mode, plus nested columns for RECORD."""

    name: str
    type: BigQueryType
    mode: Mode
    description: str = ""
    fields: tuple[ColumnSpec, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The column as BigQuery's JSON schema represents it."""
        data: dict[str, Any] = {"name": self.name, "type": self.type, "mode": self.mode}
        if self.description:
            data["description"] = self.description
        if self.fields:
            data["fields"] = [column.to_json() for column in self.fields]
        return data


@dataclass(frozen=True)
class TableSpec:
    """A table: columns, day partitioning column and clustering columns."""

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    partition_field: str | None = None
    clustering: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        """Top-level column names in schema order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> ColumnSpec:
        """The column called ``name`` (``KeyError`` if there is none)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def schema_json(self) -> list[dict[str, Any]]:
        """The schema as ``bq mk --schema FILE`` and Terraform's ``schema`` expect."""
        return [column.to_json() for column in self.columns]

    def table_json(self) -> dict[str, Any]:
        """Schema, partitioning and clustering in the shape of BigQuery's Table resource."""
        data: dict[str, Any] = {
            "tableReference": {"tableId": self.name},
            "description": self.description,
            "schema": {"fields": self.schema_json()},
        }
        if self.partition_field:
            data["timePartitioning"] = {"type": "DAY", "field": self.partition_field}
        if self.clustering:
            data["clustering"] = {"fields": list(self.clustering)}
        return data


_SCALARS: dict[type, BigQueryType] = {
    str: "STRING",
    bool: "BOOL",
    int: "INT64",
    float: "FLOAT64",
    Decimal: "NUMERIC",
    datetime: "TIMESTAMP",
    date: "DATE",
}


def _strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _column(name: str, annotation: Any, required: bool, description: str) -> ColumnSpec:
    annotation = _strip_annotated(annotation)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{name}: unions other than Optional have no column type")
        return _column(name, members[0], False, description)
    if origin is list:
        (item,) = get_args(annotation)
        inner = _column(name, item, True, description)
        return ColumnSpec(name, inner.type, "REPEATED", description, inner.fields)
    if origin is dict:
        return ColumnSpec(name, "JSON", "REQUIRED" if required else "NULLABLE", description)
    if origin is Literal:
        value_types = {type(value) for value in get_args(annotation)}
        if len(value_types) != 1:
            raise TypeError(f"{name}: a Literal of mixed types has no column type")
        return _column(name, value_types.pop(), required, description)
    mode: Mode = "REQUIRED" if required else "NULLABLE"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ColumnSpec(name, "RECORD", mode, description, _columns(annotation))
    if annotation is AwareDatetime:
        return ColumnSpec(name, "TIMESTAMP", mode, description)
    if isinstance(annotation, type):
        for python_type, bq_type in _SCALARS.items():
            # bool before int matters: bool is a subclass of int.
            if issubclass(annotation, python_type):
                return ColumnSpec(name, bq_type, mode, description)
    raise TypeError(f"{name}: no BigQuery type for {annotation!r}")


def _is_required(info: FieldInfo) -> bool:
    # A field with a non-null default (schema_version, source, ...) is always
    # filled by the model, so its column can promise a value too.
    return info.is_required() or (info.default_factory is None and info.default is not None)


def _columns(model: type[BaseModel]) -> tuple[ColumnSpec, ...]:
    return tuple(
        _column(name, info.annotation, _is_required(info), info.description or "")
        for name, info in model.model_fields.items()
    )


def table_spec_for(
    model: type[BaseModel],
    *,
    name: str,
    description: str,
    partition_field: str | None = None,
    clustering: tuple[str, ...] = (),
    appended: tuple[str, ...] = (),
) -> TableSpec:
    """Derive a :class:`TableSpec` from a pydantic model's fields.

    ``appended``: columns added after the table shipped, moved to its end in this
    order. Terraform's google provider replaces a table whose columns change order
    (hashicorp/terraform-provider-google#8337), and BigQuery's additive schema update
    appends, so a new column goes last whatever its model's field order.
    """
    columns = _columns(model)
    later = [next(column for column in columns if column.name == name) for name in appended]
    columns = (*(column for column in columns if column.name not in appended), *later)
    spec = TableSpec(name, description, columns, partition_field, clustering)
    for column_name in (partition_field, *clustering):
        if column_name is not None:
            spec.column(column_name)
    return spec


EVENTS = table_spec_for(
    EventRow,
    name="events",
    description="One row per accepted audit event (insertId = event_id).",
    partition_field="occurred_at",
    clustering=("app", "event_type"),
    appended=("actor_email_hmac", "publisher_instance_id", "publisher_sequence"),
)
DEAD_LETTERS = table_spec_for(
    DeadLetterRow,
    name="dead_letters",
    description="Lines the subscriber rejected, with the reason; the topic copy is replayable.",
    partition_field="received_at",
    clustering=("error_class", "app"),
)
# The column each table deduplicates on (insertId in BigQuery, primary key in DuckDB).
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("event_id",),
    "dead_letters": ("dead_letter_id",),
    "cost_rates": ("service", "model_id", "pricing_tier", "effective_from"),
}
COST_RATES = table_spec_for(
    CostRateRow,
    name="cost_rates",
    description="Effective-dated prices keyed by (service, model_id, pricing_tier).",
    clustering=("service", "model_id"),
)
TABLES: tuple[TableSpec, ...] = (EVENTS, DEAD_LETTERS, COST_RATES)
