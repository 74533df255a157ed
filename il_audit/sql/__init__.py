"""The analytics views, written once in BigQuery SQL (one ``.sql`` file per view).

:func:`views` lists them in dependency order; :func:`for_bigquery` qualifies
table names with ``project.dataset``; :func:`for_duckdb` transpiles to DuckDB
with sqlglot (imported only when called).

``compat/`` holds the seed-compatible views: one per table il-audit 0.1.3
wrote, with its name, columns and types (then the columns 1.0.35 added),
computed from ``events_deduped``, and 1.0.35's ``access_control_events`` and
``library_interaction_events``. 1.0.35's ``chat_feedback``, ``content_reports``
and ``notification_sends``, which il-audit never writes, are typed, empty views
generated from their specs (:func:`legacy_view_sql`). Any view named like a
table an earlier il-audit wrote (0.1.3's twelve, 1.0.35's 23:
:data:`~il_audit.schemas.seed_tables.OLDER_TABLES`) stands in for it: after
``il-audit migrate from-0.1`` / ``from-1.0`` it also reads the old rows kept in
``legacy_<name>`` (:func:`with_legacy`); which views do is derived from the
names, so a view added for another 1.0.35 table is picked up without a list.
Views of 0.1.3 and 1.0.35 tables carry table and column descriptions
(:attr:`View.description`, :attr:`View.column_descriptions`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

from il_audit.schemas.descriptions import view_column_descriptions, view_description
from il_audit.schemas.seed_tables import LATER_TABLES, OLDER_TABLES, legacy_name, standard_type
from il_audit.schemas.seed_tables_1035 import LEGACY_ONLY_TABLES
from il_audit.schemas.tables import ColumnSpec

COMPAT_VIEW_NAMES: Final = (
    "auth_events",
    "user_profile_events",
    "config_change_events",
    "ui_interaction_events",
    "ingest_job_events",
    "ingest_file_events",
    "drive_events",
    "api_usage_events",
    "resource_usage_events",
    "chat_turns",
    "chat_sessions",
)
"""0.1.3 tables that live on as views (``cost_rates`` stays a table)."""
COMPAT_1035_VIEW_NAMES: Final = ("access_control_events", "library_interaction_events")
"""Tables new in 1.0.35 that live on as views over ``events`` in ``compat/``, with 1.0.35's
columns; like the 0.1.3 ones, they read ``legacy_<name>`` too once a migration left one."""
LEGACY_VIEW_NAMES: Final = LEGACY_ONLY_TABLES
"""1.0.35 tables il-audit never writes (``chat_feedback``, ``content_reports``,
``notification_sends``): typed, empty views with 1.0.35's columns, generated from
:data:`~il_audit.schemas.seed_tables.LATER_TABLES`, for migration only (after a migration
they show the 1.0.35 rows of ``legacy_<name>``)."""
COMPAT_BASE_VIEWS: Final = ("seed_envelope", "chat_turn_costs")
"""Views in ``compat/`` that the compat views read (not 0.1.3 tables themselves)."""

# Creation order: a view must come after the views it reads.
VIEW_NAMES: Final = (
    "events_deduped",
    "events_by_type_daily",
    "active_users_daily",
    "cost_by_app_daily",
    "cost_by_model_daily",
    "dead_letters_by_reason",
    "costs_repriced",
    "auth_failures",
    "ui_interactions",
    "pipeline_health",
    "pipeline_completeness",
    "model_call_text",
    "llm_cost_by_model_tier",
    "out_of_scope_queries",
    "chat_visit_sessions",
    "retrieval_candidates",
    "retrieval_chunks",
    "retrieval_passes",
    "chat_feedback_scores",
    *COMPAT_BASE_VIEWS,
    *COMPAT_VIEW_NAMES,
    *COMPAT_1035_VIEW_NAMES,
    *LEGACY_VIEW_NAMES,
    # 1.0.35's helper views (VIEW_* in audit_schema_store): the chat tables with their turn.
    "v_chat_model_calls",
    "v_chat_retrieval_candidates",
    "v_chat_retrieval_chunks",
    "v_chat_retrieval_passes",
)
BASE_TABLES: Final = frozenset({"events", "dead_letters", "cost_rates"})
_NUMERIC_PRECISION: Final = "DECIMAL(38, 9)"
"""BigQuery NUMERIC; sqlglot writes a bare NUMERIC as DuckDB's DECIMAL, which is (18, 3)."""


@dataclass(frozen=True)
class View:
    """A named view and its BigQuery SQL (the ``SELECT``, without ``CREATE``)."""

    name: str
    sql: str
    compat: bool = False
    """A seed-compatible view, standing in for the 0.1.3 (or 1.0.35) table of the same name:
    it reads ``legacy_<name>`` too once a migration left one there."""

    @property
    def description(self) -> str:
        """The leading comment of the file, as one line; for a view standing in for a 0.1.3
        or 1.0.35 table, after the table's description (what analysts see in BigQuery)."""
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line.removeprefix("--").strip())
        comment = " ".join(lines)
        table = view_description(self.name)
        return f"{table}\n\n{comment}" if table and table not in comment else comment

    @property
    def column_descriptions(self) -> dict[str, str]:
        """Column name -> description, for a view standing in for a 0.1.3 or 1.0.35 table or
        one of 1.0.35's helper views (empty for the others): what ``infra apply`` and
        Terraform put on its columns."""
        return view_column_descriptions(self.name)

    @property
    def legacy_table(self) -> str | None:
        """Where ``il-audit migrate`` keeps the rows of the older table this view stands in for
        (None: no earlier il-audit wrote a table of this name)."""
        return legacy_name(self.name) if self.name in OLDER_TABLES else None


@functools.cache
def views() -> tuple[View, ...]:
    """Every view, in creation order."""
    folder = resources.files("il_audit.sql")
    compat = folder.joinpath("compat")
    return tuple(
        View(name, legacy_view_sql(name), compat=True)
        if name in LEGACY_VIEW_NAMES
        else View(name, compat.joinpath(f"{name}.sql").read_text("utf-8"), compat=True)
        if name in COMPAT_VIEW_NAMES or name in COMPAT_1035_VIEW_NAMES
        else View(
            name,
            (compat if name in COMPAT_BASE_VIEWS else folder)
            .joinpath(f"{name}.sql")
            .read_text("utf-8"),
        )
        for name in VIEW_NAMES
    )


def sql_type(column: ColumnSpec) -> str:
    """The column's type as BigQuery SQL spells it in a CAST (``ARRAY<STRING>`` when repeated)."""
    return f"ARRAY<{column.type}>" if column.mode == "REPEATED" else column.type


def legacy_view_sql(name: str) -> str:
    """The SQL of the typed, empty view standing in for the 1.0.35 table ``name``, which
    il-audit never writes: 1.0.35's columns, names, order and types, and no row."""
    spec = LATER_TABLES[name]
    columns = ",\n  ".join(
        f"CAST(NULL AS {sql_type(column)}) AS {column.name}" for column in spec.columns
    )
    return (
        f"-- 1.0.35 table {name}. {spec.description}\n"
        "-- 1.0.35's columns, names, order and types, and no row of its own.\n"
        f"SELECT\n  {columns}\nLIMIT 0\n"
    )


def view(name: str) -> View:
    """The view called ``name`` (``KeyError`` if there is none)."""
    for candidate in views():
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def legacy_view_names() -> tuple[str, ...]:
    """The views standing in for a table an earlier il-audit wrote, in creation order."""
    return tuple(item.name for item in views() if item.legacy_table)


def with_legacy(
    stand_in: View, legacy_columns: Mapping[str, str], columns: Sequence[tuple[str, str]]
) -> View:
    """``stand_in`` reading the old rows of ``legacy_<name>`` too, as one (``UNION ALL``).

    ``columns`` are the view's own columns, ``(name, BigQuery type)`` in order, as the
    engine reports them (``infra apply`` asks BigQuery with a dry run), so the union
    follows whatever columns the view gains. ``legacy_columns`` maps the legacy table's
    columns to their types. Each view column is taken BY NAME from the legacy table: one it
    lacks reads as ``CAST(NULL AS type)``, one of another type is converted with
    ``SAFE_CAST``, and its columns the view lacks are left out, so both halves have the
    view's columns in the view's order.
    """
    if stand_in.legacy_table is None:
        raise ValueError(f"{stand_in.name} stands in for no table of an earlier il-audit")
    have = {name: standard_type(type_name) for name, type_name in legacy_columns.items()}
    selected = []
    for name, type_name in columns:
        wanted = standard_type(type_name)
        present = have.get(name)
        if present == wanted:
            selected.append(name)
        elif present is None:
            selected.append(f"CAST(NULL AS {wanted}) AS {name}")
        else:
            selected.append(f"SAFE_CAST({name} AS {wanted}) AS {name}")
    lines = stand_in.sql.rstrip().splitlines()
    header = len(lines) - len(list(itertools.dropwhile(lambda line: line.startswith("--"), lines)))
    select = ",\n  ".join(selected)
    body = "\n".join(lines[header:])
    sql = (
        "\n".join(lines[:header])
        + f"\n-- Since il-audit migrate: the older release's rows ({stand_in.legacy_table}) "
        "and the new rows, read as one.\n"
        f"SELECT\n  {select}\nFROM {stand_in.legacy_table}\nUNION ALL (\n{body}\n)\n"
    )
    return View(stand_in.name, sql, compat=stand_in.compat)


def _relations() -> frozenset[str]:
    legacy = frozenset(legacy_name(name) for name in OLDER_TABLES)
    return BASE_TABLES | frozenset(VIEW_NAMES) | legacy


def for_bigquery(view: View, project: str, dataset: str) -> str:
    """The view's SELECT with every il-audit table and view qualified as `project.dataset.x`."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(view.sql, read="bigquery")
    for table in tree.find_all(exp.Table):
        if table.name in _relations() and not table.args.get("db"):
            # Quoted: project ids may contain hyphens.
            table.set("db", exp.to_identifier(dataset, quoted=True))
            table.set("catalog", exp.to_identifier(project, quoted=True))
    return tree.sql(dialect="bigquery", pretty=True)


def for_duckdb(sql: str) -> str:
    """BigQuery SQL as DuckDB SQL, with `project.dataset.` qualifiers dropped.

    A bare ``NUMERIC`` (``CAST(x AS NUMERIC)``, ``NUMERIC '0.1'``) becomes
    ``DECIMAL(38, 9)``, BigQuery's NUMERIC, instead of DuckDB's default ``DECIMAL(18, 3)``;
    ``PARSE_NUMERIC(x)``, which DuckDB lacks, becomes a cast to that type.
    """
    import sqlglot
    from sqlglot import exp

    statements = []
    for tree in sqlglot.parse(sql, read="bigquery"):
        if tree is None:
            continue
        for table in tree.find_all(exp.Table):
            table.set("db", None)
            table.set("catalog", None)
        for data_type in list(tree.find_all(exp.DataType)):
            if data_type.this == exp.DataType.Type.DECIMAL and not data_type.expressions:
                data_type.replace(exp.DataType.build(_NUMERIC_PRECISION, dialect="duckdb"))
        for parse in list(tree.find_all(exp.ParseNumeric)):
            numeric = exp.DataType.build(_NUMERIC_PRECISION, dialect="duckdb")
            parse.replace(exp.Cast(this=parse.this, to=numeric))
        statements.append(tree.sql(dialect="duckdb"))
    return ";\n".join(statements)
