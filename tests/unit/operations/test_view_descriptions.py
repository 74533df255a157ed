"""``infra apply`` puts the table and column descriptions on the BigQuery views.

BigQuery takes no schema when a view is created and drops the column
descriptions when its query changes; the BigQuery stand-in computes no schema
for a view at all. So these tests run ``apply_warehouse`` against
:mod:`tests.support.fake_bigquery`, whose views get the schema DuckDB computes
for the same view SQL (the embedded mode's views), and check the requests the
real client sent: the view created without a schema, then patched with the
schema BigQuery gave and the descriptions of :mod:`il_audit.schemas.descriptions`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.cloud import bigquery

from il_audit.operations.infra import BigQueryProvisioner, apply_warehouse
from il_audit.operations.plan import Change
from il_audit.schemas.descriptions import described_columns, table_description
from il_audit.sql import VIEW_NAMES, view
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import make_settings
from tests.support.fake_bigquery import FakeBigQuery

DATASET = "audit"
DESCRIBED = ("auth_events", "library_interaction_events", "notification_sends", "chat_turns")
_LEGACY_TYPES = {
    "VARCHAR": "STRING",
    "BIGINT": "INTEGER",
    "INTEGER": "INTEGER",
    "DOUBLE": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "DATE": "DATE",
    "JSON": "JSON",
}


def _field(name: str, duckdb_type: str) -> dict[str, Any]:
    repeated = duckdb_type.endswith("[]")
    kind = _LEGACY_TYPES.get(duckdb_type.removesuffix("[]"), "STRING")
    return {"name": name, "type": kind, "mode": "REPEATED" if repeated else "NULLABLE"}


@pytest.fixture(scope="module")
def view_schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Each view's schema as BigQuery's API writes it, computed by DuckDB from the same SQL."""
    path: Path = tmp_path_factory.mktemp("views") / "v.duckdb"
    sink = DuckDBSink(path, hold_seconds=0)
    sink.ensure_tables()
    sink.close()
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return {
            name: [
                _field(column[0], str(column[1]))
                for column in connection.execute(f"SELECT * FROM {name} LIMIT 0").description
            ]
            for name in VIEW_NAMES
        }
    finally:
        connection.close()


@pytest.fixture
def fake(view_schemas: dict[str, list[dict[str, Any]]]) -> Iterator[FakeBigQuery]:
    """A fresh fake BigQuery."""
    with fake_for(view_schemas) as server:
        yield server


def fake_for(view_schemas: dict[str, list[dict[str, Any]]]) -> FakeBigQuery:
    server = FakeBigQuery()
    server.view_schema = lambda name: [dict(field) for field in view_schemas[name]]
    return server


@pytest.fixture(scope="module")
def applied(view_schemas: dict[str, list[dict[str, Any]]]) -> Iterator[FakeBigQuery]:
    """A fake BigQuery after one ``apply_warehouse`` (read-only for the tests using it)."""
    with fake_for(view_schemas) as server:
        apply(server)
        yield server


def apply(fake: FakeBigQuery) -> list[Change]:
    changes: list[Change] = []
    settings = make_settings(project=fake.project, dataset=DATASET, bq_api_endpoint=fake.url)
    provisioner = BigQueryProvisioner(fake.client(), DATASET, None)
    apply_warehouse(provisioner, settings, dry_run=False, record=changes.append)
    return changes


def schema_patches(fake: FakeBigQuery, name: str) -> list[list[dict[str, Any]]]:
    """The schemas of the tables.patch requests for ``name``."""
    return [
        request.body["schema"]["fields"]
        for request in fake.requests_of("tables.patch")
        if request.table == name and "schema" in request.body
    ]


@pytest.mark.parametrize("name", DESCRIBED)
def test_a_new_view_is_created_then_patched_with_its_column_descriptions(
    applied: FakeBigQuery, view_schemas: dict[str, list[dict[str, Any]]], name: str
) -> None:
    """The view is created without a schema (BigQuery refuses one), with its table's
    description; then its computed schema is sent back, names, types and modes unchanged,
    with each column's description."""
    fake = applied

    (insert,) = [
        r for r in fake.requests_of("tables.insert") if r.body["tableReference"]["tableId"] == name
    ]
    assert "schema" not in insert.body
    assert table_description(name) in insert.body["description"]
    descriptions = {column.name: column.description for column in described_columns(name)}
    expected = [
        {**field, "description": descriptions[field["name"]]} for field in view_schemas[name]
    ]
    assert [
        {k: f[k] for k in ("name", "type", "mode", "description")}
        for f in schema_patches(fake, name)[0]
    ] == expected
    assert all(field["description"] for field in expected)
    stored = fake.table(DATASET, name)
    assert stored is not None
    assert stored.schema == schema_patches(fake, name)[0]


def test_views_without_column_descriptions_are_not_patched(applied: FakeBigQuery) -> None:
    """Our own analytics views (events_deduped...) get their description only."""
    assert schema_patches(applied, "events_deduped") == []
    assert view("events_deduped").column_descriptions == {}


def test_a_second_apply_changes_nothing(fake: FakeBigQuery) -> None:
    """The label hashes the SQL and the descriptions: nothing is patched the second time."""
    apply(fake)
    fake.reset_requests()

    second = apply(fake)

    assert fake.requests_of("tables.patch") == []
    assert {change.action for change in second if change.kind == "view"} == {"unchanged"}


def test_an_updated_view_gets_its_column_descriptions_again(fake: FakeBigQuery) -> None:
    """A changed query makes BigQuery recompute the schema without descriptions: apply
    updates the query, then writes the descriptions again."""
    apply(fake)
    stored = fake.table(DATASET, "auth_events")
    assert stored is not None
    stored.resource["view"] = {"query": "SELECT 1 AS old", "useLegacySql": False}
    stored.resource["labels"] = {"il_audit_sql_sha256": "from-an-older-release"}
    fake.reset_requests()

    changes = apply(fake)

    assert [c.action for c in changes if c.name.endswith(".auth_events")] == ["update"]
    query_patch, schema_patch = [r.body for r in fake.requests_of("tables.patch")]
    assert "view" in query_patch
    assert "schema" not in query_patch
    assert query_patch["description"] == view("auth_events").description
    assert {f["name"]: f.get("description") for f in schema_patch["schema"]["fields"]} == {
        column.name: column.description for column in described_columns("auth_events")
    }


def test_the_view_client_api_sees_the_descriptions(applied: FakeBigQuery) -> None:
    """Read back through the client, as the console shows them."""
    table = applied.client().get_table(f"{applied.project}.{DATASET}.library_interaction_events")

    assert isinstance(table, bigquery.Table)
    assert table.table_type == "VIEW"
    by_name = {field.name: field.description for field in table.schema}
    assert by_name["interaction"].startswith("Kind of library change: tag, access")
