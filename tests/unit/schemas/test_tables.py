"""Table specs are derived from the row models and pinned by golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import AwareDatetime, BaseModel

from il_audit.schemas import COST_RATES, DEAD_LETTERS, ENVELOPE_FIELDS, EVENTS, TABLES
from il_audit.schemas.tables import table_spec_for
from tests.support.golden import assert_matches_golden

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_table_json_matches_golden(table: object) -> None:
    """Schema, partitioning and clustering of every table are pinned."""
    assert_matches_golden(f"tables/{table.name}.json", table.table_json())  # type: ignore[attr-defined]


def test_events_table_is_partitioned_and_clustered() -> None:
    """events: partitioned by DATE(occurred_at), clustered by app and event_type."""
    data = EVENTS.table_json()
    assert data["timePartitioning"] == {"type": "DAY", "field": "occurred_at"}
    assert data["clustering"] == {"fields": ["app", "event_type"]}


def test_events_table_holds_every_envelope_field_and_the_subscriber_additions() -> None:
    """Envelope columns plus pricing and delivery columns, with NUMERIC money."""
    names = set(EVENTS.column_names)
    assert set(ENVELOPE_FIELDS) <= names
    added = {"ingested_at", "publish_time", "message_id", "delivery_attempt", "cost_usd",
             "pricing_source", "rate_version", "pricing_status"}  # fmt: skip
    assert added <= names
    assert EVENTS.column("cost_usd").type == "NUMERIC"
    usage = EVENTS.column("usage")
    assert usage.mode == "REPEATED"
    assert usage.type == "RECORD"
    assert {column.name: column.type for column in usage.fields}["cost_usd"] == "NUMERIC"
    assert EVENTS.column("metadata").type == "JSON"


def test_dead_letters_and_cost_rates_have_their_keys() -> None:
    """dead_letters keeps the reason and the raw line; cost_rates is effective-dated."""
    assert DEAD_LETTERS.column("error_class").mode == "REQUIRED"
    assert DEAD_LETTERS.column("raw_line").type == "STRING"
    assert COST_RATES.column("effective_from").type == "DATE"
    assert COST_RATES.column("unit_price").type == "NUMERIC"


def test_a_new_model_field_becomes_a_column() -> None:
    """Specs follow the model: nothing is written twice."""

    class Row(BaseModel):
        when: AwareDatetime
        count: int | None = None
        tags: list[str] = []

    spec = table_spec_for(Row, name="t", description="d", partition_field="when")
    assert [(c.name, c.type, c.mode) for c in spec.columns] == [
        ("when", "TIMESTAMP", "REQUIRED"),
        ("count", "INT64", "NULLABLE"),
        ("tags", "STRING", "REPEATED"),
    ]


def test_partitioning_on_a_missing_column_is_refused() -> None:
    """A spec cannot name a partition column its model lacks."""

    class Row(BaseModel):
        value: int

    with pytest.raises(KeyError):
        table_spec_for(Row, name="t", description="d", partition_field="missing")


def test_columns_added_since_the_last_release_go_last() -> None:
    """Each table keeps the columns 2.0.0 shipped, in their order, as its prefix: BigQuery's
    additive schema update appends, and Terraform's google provider replaces (drops) a table
    whose columns change order (hashicorp/terraform-provider-google#8337). A new field in
    the middle of a row model goes into ``table_spec_for(..., appended=...)``."""
    released = json.loads((GOLDEN / "released_tables_2.0.0.json").read_text())["columns"]
    for spec in TABLES:
        names = [column.name for column in spec.columns]
        assert names[: len(released[spec.name])] == released[spec.name], spec.name
