"""Where the personal data is: every column of every table and view, with its tag.

:mod:`il_audit.schemas.personal_data` says what a column *name* can hold; this module
says where each name appears, reading the columns the way a warehouse reports them (the
tables and views created in an in-memory DuckDB database, the same SQL BigQuery runs). Two
generated artefacts read it, so neither can drift from the inventory: ``docs/privacy.md``
(:mod:`il_audit.operations.privacy_reference`) and the column-level access of the
Terraform module (:mod:`il_audit.operations.terraform_privacy`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Final

from il_audit.schemas.personal_data import COLUMN_TAGS, PersonalData, personal_data
from il_audit.schemas.tables import TABLES

PHYSICAL_TABLES = tuple(spec.name for spec in TABLES)
"""The tables il-audit writes (``events``, ``dead_letters``, ``cost_rates``)."""
_PAYLOAD_READ = re.compile(
    r"JSON_(?:VALUE|QUERY)\(\s*\w+\.payload\s*,\s*'\$\.(\w+)'\s*\)(?:\s+AS\s+(\w+))?"
)
"""``JSON_VALUE(e.payload, '$.key')``, and the column it is read into when ``AS`` follows."""


@dataclass(frozen=True)
class PayloadRead:
    """A payload key a view reads, and the column it reads it into (None: in an expression)."""

    view: str
    key: str
    column: str | None


@cache
def payload_reads() -> tuple[PayloadRead, ...]:
    """Every payload key every view reads with ``JSON_VALUE``/``JSON_QUERY``, in view order.

    These are the keys the library's own events carry (the views are written for them), so
    erasure's :func:`~il_audit.schemas.personal_data.scrub_json` must know each of them.
    """
    from il_audit.sql import views

    return tuple(
        PayloadRead(view.name, match.group(1), match.group(2))
        for view in views()
        for match in _PAYLOAD_READ.finditer(view.sql)
    )


@cache
def relation_columns() -> Mapping[str, tuple[str, ...]]:
    """Every table and view -> its columns in order, as DuckDB reports them once created.

    Tables first (in :data:`~il_audit.schemas.tables.TABLES` order), then the views in
    creation order. ``legacy_*`` tables (what a migration keeps) have the columns of the
    view of the same name, and their tags.
    """
    import duckdb

    from il_audit.subscriber_fn.sinks.duckdb import create_table_sql, view_statements

    order: list[str] = []
    with duckdb.connect() as connection:
        for spec in TABLES:
            connection.execute(create_table_sql(spec))
            order.append(spec.name)
        for name, sql in view_statements():
            connection.execute(f"CREATE VIEW {name} AS {sql}")
            order.append(name)
        rows = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[str]] = {}
    for relation, column in rows:
        columns.setdefault(str(relation), []).append(str(column))
    return {name: tuple(columns[name]) for name in order}


def personal_columns(relation: str) -> dict[str, PersonalData]:
    """The columns of ``relation`` that can hold personal data, in order, with their tags."""
    tags = {column: personal_data(relation, column) for column in relation_columns()[relation]}
    return {column: tag for column, tag in tags.items() if tag.personal}


def non_personal_columns(relation: str) -> tuple[str, ...]:
    """The columns of ``relation`` that hold no personal data, in order."""
    return tuple(
        column
        for column in relation_columns()[relation]
        if not personal_data(relation, column).personal
    )


ANALYST_HIDDEN: Final = frozenset({"row_salt"})
"""Not personal, but kept out of the analyst views: with a row's salt and its row_hash,
an analyst could confirm a guess at the personal columns those views hide."""


def analyst_columns(relation: str) -> tuple[str, ...]:
    """The columns an analyst view of ``relation`` selects: the non-personal ones but the
    salt (:data:`ANALYST_HIDDEN`)."""
    return tuple(c for c in non_personal_columns(relation) if c not in ANALYST_HIDDEN)


@dataclass(frozen=True)
class InventoryRow:
    """One personal column name with one tag, and where it appears with that tag."""

    column: str
    tag: PersonalData
    tables: tuple[str, ...]
    views: tuple[str, ...]


def inventory() -> tuple[InventoryRow, ...]:
    """Every personal column name (and tag), sorted by name, with its tables and views.

    A name tagged differently in some relation (``RELATION_TAGS``) gets a row per tag. A
    name that no table or view has (a payload key only, such as ``text``) has a row with
    no relations.
    """
    found: dict[tuple[str, PersonalData], tuple[list[str], list[str]]] = {}
    for relation, columns in relation_columns().items():
        for column in columns:
            tag = personal_data(relation, column)
            if tag.personal:
                tables, views = found.setdefault((column, tag), ([], []))
                (tables if relation in PHYSICAL_TABLES else views).append(relation)
    seen = {column for column, _ in found}
    for column, tag in COLUMN_TAGS.items():
        if tag.personal and column not in seen:
            found[(column, tag)] = ([], [])
    return tuple(
        InventoryRow(column, tag, tuple(tables), tuple(sorted(views)))
        for (column, tag), (tables, views) in sorted(
            found.items(), key=lambda item: (item[0][0], len(item[1][1]) == 0)
        )
    )
