"""il-audit 1.0.35's warehouse surface, from the facts sheet (section 5.6).

The 23 tables (columns, types, modes) are parsed from ``tests/data/seed-1.0.35-tables.md``,
a verbatim excerpt of the sheet, and checked against the package's one definition
(:mod:`il_audit.schemas.seed_tables_1035`), the ``TABLE_*`` constants, the schema
builders, the description helpers and the views of an embedded DuckDB file: each 1.0.35
table name is a view there, with 1.0.35's columns (a 0.1.3 table's view: 0.1.3's columns,
then the ones 1.0.35 added, in its order).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pytest

import il_audit
from il_audit.config.stores import audit_schema_store as store
from il_audit.sql import VIEW_NAMES, for_duckdb
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support import seed_schema
from tests.support.warehouses import bigquery_type

EXCERPT = Path(__file__).resolve().parents[1] / "data" / "seed-1.0.35-tables.md"
_TYPES = {"S": "STRING", "I": "INT64", "F": "FLOAT64", "B": "BOOL", "TS": "TIMESTAMP", "D": "DATE"}
_ROW = re.compile(r"^\| `(?P<name>\w+)`(?: \([^)]*\))? \| (?P<count>\d+) \| (?P<columns>.+) \|$")
_COLUMN = re.compile(r"^(?P<name>\w+) (?P<type>[A-Z]+)(?P<suffix>!|\[\])?$")


class Column(NamedTuple):
    name: str
    type: str
    mode: str


@functools.cache
def facts() -> dict[str, tuple[Column, ...]]:
    """Every 1.0.35 table of the excerpt, columns in order."""
    text = EXCERPT.read_text("utf-8")
    core = re.search(r"`CORE` = `([^`]+)`", text)
    assert core is not None
    tables = {}
    for line in text.splitlines():
        row = _ROW.match(line)
        if row is None:
            continue
        columns = re.sub(r"\s*\(note:.*\)$", "", row["columns"]).replace("**", "")
        parts = [part.strip() for part in columns.replace("CORE", core[1]).split(",")]
        parsed = []
        for part in parts:
            match = _COLUMN.match(part)
            assert match is not None, part
            mode = {"!": "REQUIRED", "[]": "REPEATED", None: "NULLABLE"}[match["suffix"]]
            parsed.append(Column(match["name"], _TYPES[match["type"]], mode))
        assert len(parsed) == int(row["count"]), row["name"]
        tables[row["name"]] = tuple(parsed)
    return tables


NEW_CONSTANTS = (
    "TABLE_ACCESS_CONTROL_EVENTS", "TABLE_MODEL_CALL_TEXT", "TABLE_RETRIEVAL_CANDIDATES",
    "TABLE_RETRIEVAL_CHUNKS", "TABLE_RETRIEVAL_PASSES", "TABLE_CHAT_VISIT_SESSIONS",
    "TABLE_CHAT_FEEDBACK", "TABLE_CONTENT_REPORTS", "TABLE_NOTIFICATION_SENDS",
    "TABLE_OUT_OF_SCOPE_QUERIES", "TABLE_LIBRARY_INTERACTION_EVENTS",
)  # fmt: skip
VIEWS = {
    "VIEW_CHAT_MODEL_CALLS": ("v_chat_model_calls", "model_call_text", [
        "question", "retrieval_query", "turn_status", "turn_input_tokens",
        "turn_output_tokens", "turn_api_cost_usd"]),
    "VIEW_CHAT_RETRIEVAL_CANDIDATES": ("v_chat_retrieval_candidates", "retrieval_candidates",
                                       ["question", "retrieval_query", "workflow"]),
    "VIEW_CHAT_RETRIEVAL_CHUNKS": ("v_chat_retrieval_chunks", "retrieval_chunks", ["question"]),
    "VIEW_CHAT_RETRIEVAL_PASSES": ("v_chat_retrieval_passes", "retrieval_passes", ["question"]),
}  # fmt: skip
ROOT_NAMES = (
    "TABLE_CHAT_FEEDBACK", "TABLE_CONTENT_REPORTS", "TABLE_NOTIFICATION_SENDS",
    "TABLE_OUT_OF_SCOPE_QUERIES", "chat_feedback_schema", "content_reports_schema",
    "notification_sends_schema", "out_of_scope_queries_schema",
)  # fmt: skip


def test_the_excerpt_has_the_23_tables() -> None:
    """The sheet lists 23 tables; the package defines the same 23, columns in the same order,
    with the same types and modes."""
    from il_audit.schemas.seed_tables_1035 import SEED_1035_TABLES

    assert len(facts()) == 23
    assert list(SEED_1035_TABLES) == list(facts())
    for name, columns in facts().items():
        spec = SEED_1035_TABLES[name]
        assert [(c.name, c.type, c.mode) for c in spec.columns] == list(columns), name


@pytest.mark.parametrize("constant", NEW_CONSTANTS)
def test_table_constants_name_their_table(constant: str) -> None:
    """Each new TABLE_* constant is the table's name."""
    value = getattr(store, constant)
    assert value in facts()
    assert constant == "TABLE_" + value.upper()


def test_root_exports_the_four_tables_and_their_builders() -> None:
    """il_audit exports 1.0.35's four root TABLE_* constants and builders (section 5.1)."""
    for name in ROOT_NAMES:
        assert name in il_audit.__all__
        assert getattr(il_audit, name) is getattr(store, name)


@pytest.mark.parametrize("name", sorted(facts()))
def test_every_table_has_a_builder_of_schema_fields(name: str) -> None:
    """``<table>_schema() -> list[Any]`` returns SchemaFields: 1.0.35's columns for a table
    1.0.35 added (with descriptions); 0.1.3's for 0.1.3's twelve, as before."""
    builder = getattr(store, f"{name}_schema")
    signature = inspect.signature(builder)
    assert not signature.parameters
    fields = builder()
    if name in seed_schema.seed_tables():
        expected = [tuple(c) for c in seed_schema.seed_tables()[name]]
    else:
        expected = [tuple(c) for c in facts()[name]]
        assert all(field.description for field in fields), name
    types = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
    found = [(f.name, types.get(f.field_type, f.field_type), f.mode) for f in fields]
    assert found == expected


def test_description_helpers_have_1_0_35_s_signatures() -> None:
    """table_description, schema_field_names and view_column_descriptions (Appendix A)."""
    assert str(inspect.signature(store.table_description)) == "(table_id: 'str') -> 'str'"
    assert (
        str(inspect.signature(store.schema_field_names)) == "(table_id: 'str') -> 'frozenset[str]'"
    )
    assert (
        str(inspect.signature(store.view_column_descriptions))
        == "(view_id: 'str') -> 'dict[str, str]'"
    )


@pytest.mark.parametrize("name", sorted(facts()))
def test_every_table_is_described(name: str) -> None:
    """TABLE_DESCRIPTIONS has every table; schema_field_names holds every 1.0.35 column (the
    view may have more: 0.1.3's, il-audit's)."""
    assert store.TABLE_DESCRIPTIONS[name] == store.table_description(name)
    assert len(store.table_description(name)) > 20
    names = store.schema_field_names(name)
    assert isinstance(names, frozenset)
    assert {column.name for column in facts()[name]} <= names


def test_unknown_ids_are_empty() -> None:
    """An unknown table or view id has no description and no columns."""
    assert store.table_description("nope") == ""
    assert store.schema_field_names("nope") == frozenset()
    assert store.view_column_descriptions("nope") == {}


@pytest.mark.parametrize("constant", sorted(VIEWS))
def test_view_constants_and_their_column_descriptions(constant: str) -> None:
    """VIEW_* name 1.0.35's helper views; each is described, and its columns are its base
    table's, then the ones it adds, every one with a description."""
    value, base, added = VIEWS[constant]
    assert getattr(store, constant) == value
    assert value in VIEW_NAMES
    assert store.VIEW_DESCRIPTIONS[value]
    descriptions = store.view_column_descriptions(value)
    assert list(descriptions) == [c.name for c in facts()[base]] + added
    assert all(descriptions.values())
    if "question" in added:
        assert "query text storage is off" in descriptions["question"]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """An embedded DuckDB file with every view, as the embedded mode creates them."""
    path = tmp_path_factory.mktemp("w1035") / "w.duckdb"
    sink = DuckDBSink(path, hold_seconds=0)
    sink.ensure_tables()
    sink.close()
    connection = duckdb.connect(str(path), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def view_columns(connection: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    cursor = connection.execute(for_duckdb(f"SELECT * FROM {name} LIMIT 0"))
    return [(column[0], bigquery_type(str(column[1]))) for column in cursor.description]


@pytest.mark.parametrize("name", sorted(set(facts()) - {"cost_rates"}))
def test_each_1_0_35_table_is_a_view_with_its_columns(
    embedded: duckdb.DuckDBPyConnection, name: str
) -> None:
    """A table new in 1.0.35 is a view with exactly its columns; a 0.1.3 table's view has
    0.1.3's columns, then those 1.0.35 added in 1.0.35's order (chat_turns: then il-audit's)."""
    assert name in VIEW_NAMES
    found = view_columns(embedded, name)
    wanted: list[Any] = [
        (c.name, c.type if c.mode != "REPEATED" else f"<{c.type}[]>") for c in facts()[name]
    ]
    if name in seed_schema.seed_tables():
        seed = seed_schema.columns(name)
        wanted = seed + [c for c in wanted if c[0] not in {n for n, _ in seed}]
        extra = found[len(wanted) :]
        assert not extra or name == "chat_turns", extra
        found = found[: len(wanted)]
    repeated = {"<VARCHAR[]>": "<STRING[]>"}
    assert [(n, repeated.get(t, t)) for n, t in found] == wanted
