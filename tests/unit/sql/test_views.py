"""The view catalogue: order, header comments, compat views over legacy tables, transpiling."""

from __future__ import annotations

import re

import duckdb
import pytest
import sqlglot

from il_audit.schemas.seed_tables import SEED_TABLES, view_columns
from il_audit.sql import (
    COMPAT_1035_VIEW_NAMES,
    COMPAT_VIEW_NAMES,
    LEGACY_VIEW_NAMES,
    VIEW_NAMES,
    View,
    for_bigquery,
    for_duckdb,
    view,
    views,
    with_legacy,
)


def test_every_view_reads_relations_created_before_it() -> None:
    """Each view references only base tables, legacy tables or views earlier in VIEW_NAMES."""
    known = {"events", "dead_letters", "cost_rates"}
    for item in views():
        tree = sqlglot.parse_one(item.sql, read="bigquery")
        ctes = {cte.alias for cte in tree.find_all(sqlglot.exp.CTE)}
        referenced = {table.name for table in tree.find_all(sqlglot.exp.Table)} - ctes
        assert referenced <= known, (item.name, referenced - known)
        known.add(item.name)


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_every_view_starts_with_the_question_it_answers(name: str) -> None:
    """Each view file opens with a comment (the view's description in BigQuery)."""
    assert len(view(name).description) > 40


def test_compat_views_are_the_seed_tables_with_a_view() -> None:
    """Every 0.1.3 table but cost_rates has a compat view; so do 1.0.35's access control,
    library and legacy-only tables (they read legacy_<name> after a migration)."""
    compat = {*COMPAT_VIEW_NAMES, *COMPAT_1035_VIEW_NAMES, *LEGACY_VIEW_NAMES}
    assert set(COMPAT_VIEW_NAMES) == set(SEED_TABLES) - {"cost_rates"}
    assert all(view(name).compat for name in compat)
    assert not any(item.compat for item in views() if item.name not in compat)


def test_with_legacy_selects_the_seed_columns_from_the_legacy_table() -> None:
    """Columns the legacy table lacks read as NULL, other types are SAFE_CAST, extras dropped."""
    legacy = {column.name: column.type for column in SEED_TABLES["auth_events"].columns}
    legacy["module"] = "INTEGER"
    del legacy["batch_id"]
    legacy["application"] = "STRING"

    sql = with_legacy(view("auth_events"), legacy).sql

    select = sql.split("FROM legacy_auth_events")[0]
    assert "CAST(NULL AS STRING) AS batch_id" in select
    assert "SAFE_CAST(module AS STRING) AS module" in select
    assert "CAST(NULL AS STRING) AS environment" in select
    assert "application" not in select
    assert re.search(r"\n  event_id,\n", select)
    assert "UNION ALL (" in sql


def test_with_legacy_reads_the_later_columns_of_a_1_0_35_table_or_null() -> None:
    """A chat view's columns after the 0.1.3 ones are read when the legacy table has them (a
    1.0.35-era table), NULL of their type when not; 0.1.3 columns it lacks read NULL too."""
    legacy = {column.name: column.type for column in SEED_TABLES["chat_turns"].columns}
    del legacy["summary_scope"]  # 1.0.35 dropped it
    legacy.update(conversation_id="STRING", message_count="INTEGER", application="STRING")

    sql = with_legacy(view("chat_turns"), legacy).sql

    select = sql.split("FROM legacy_chat_turns")[0]
    assert "CAST(NULL AS STRING) AS summary_scope" in select
    assert re.search(r"\n  conversation_id,\n", select)
    assert re.search(r"\n  message_count,\n", select)  # INTEGER is INT64
    assert "CAST(NULL AS INT64) AS model_calls" in select
    assert "CAST(NULL AS STRING) AS pricing_status" in select
    assert "application" not in select
    names = [line.strip().rstrip(",").split(" AS ")[-1] for line in select.splitlines()[1:]]
    assert names[-16:] == [  # the view's order: trace_id, then the later columns
        "trace_id", "conversation_id", "visit_session_id", "environment",
        "user_message_count", "assistant_message_count", "message_count", "workflow",
        "metadata_json", "error_class", "app_version", "question_hmac", "question_length",
        "time_to_first_token_ms", "model_calls", "pricing_status",
    ]  # fmt: skip


def test_with_legacy_keeps_the_description_and_says_so() -> None:
    """The union view keeps the compat view's header and adds the legacy table to it."""
    merged = with_legacy(view("api_usage_events"), {"usage_id": "STRING"})

    assert merged.description.startswith(view("api_usage_events").description)
    assert "legacy_api_usage_events" in merged.description


def test_with_legacy_refuses_a_view_that_is_not_compat() -> None:
    """Only seed-compatible views have a legacy table."""
    with pytest.raises(ValueError, match="not a seed-compatible view"):
        with_legacy(view("costs_repriced"), {})


def test_for_bigquery_qualifies_legacy_tables() -> None:
    """legacy_<name> is qualified with the project and dataset like the other relations."""
    sql = for_bigquery(with_legacy(view("auth_events"), {}), "my-project", "logs")

    assert "`my-project`.`logs`.legacy_auth_events" in sql
    assert "`my-project`.`logs`.seed_envelope" in sql


def test_for_duckdb_gives_numeric_its_bigquery_scale() -> None:
    """A bare NUMERIC and PARSE_NUMERIC become DECIMAL(38, 9), not DuckDB's DECIMAL(18, 3)."""
    sql = for_duckdb(
        "SELECT CAST('0.000000123' AS NUMERIC) AS a, NUMERIC '0.000001' AS b, "
        "PARSE_NUMERIC('12.000000005') AS c, CAST(1 AS NUMERIC(10, 2)) AS d"
    )

    (row,) = duckdb.connect().execute(sql).fetchall()
    assert [str(value) for value in row] == ["1.23E-7", "0.000001000", "12.000000005", "1.00"]


def test_view_sql_is_plain_bigquery_select() -> None:
    """Each view is a SELECT (or WITH ... SELECT) BigQuery and sqlglot both parse."""
    for item in views():
        assert isinstance(sqlglot.parse_one(item.sql, read="bigquery"), sqlglot.exp.Query)
        assert isinstance(item, View)


@pytest.mark.parametrize("name", LEGACY_VIEW_NAMES)
def test_a_legacy_only_view_reads_its_1_0_35_rows_after_a_migration(name: str) -> None:
    """chat_feedback, content_reports and notification_sends are empty views that become the
    1.0.35 rows of legacy_<name> with_legacy: columns it lacks read NULL of their type (an
    ARRAY for a repeated one), and DuckDB runs the union."""
    columns = view_columns(name)
    legacy = {column.name: column.type for column in columns[1:]}
    connection = duckdb.connect()
    definition = ", ".join(
        f"{c.name} {'VARCHAR[]' if c.mode == 'REPEATED' else for_duckdb_type(c.type)}"
        for c in columns[1:]
    )
    connection.execute(f"CREATE TABLE legacy_{name} ({definition})")
    connection.execute(f"INSERT INTO legacy_{name} ({columns[1].name}) VALUES (NULL)")

    merged = with_legacy(view(name), legacy)

    first = columns[0]
    assert f"CAST(NULL AS {first.type}) AS {first.name}" in merged.sql
    rows = connection.execute(for_duckdb(merged.sql)).fetchall()
    assert len(rows) == 1
    assert len(rows[0]) == len(columns)


def test_a_missing_repeated_column_reads_as_a_null_array() -> None:
    """A legacy notification_sends without cc_emails reads it as NULL ARRAY<STRING>."""
    legacy = {c.name: c.type for c in view_columns("notification_sends") if c.name != "cc_emails"}

    sql = with_legacy(view("notification_sends"), legacy).sql

    assert "CAST(NULL AS ARRAY<STRING>) AS cc_emails" in sql


def for_duckdb_type(bigquery_type: str) -> str:
    return {"STRING": "VARCHAR", "INT64": "BIGINT", "FLOAT64": "DOUBLE", "BOOL": "BOOLEAN",
            "TIMESTAMP": "TIMESTAMPTZ", "DATE": "DATE"}[bigquery_type]  # fmt: skip
