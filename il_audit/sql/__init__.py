"""The analytics views, written once in BigQuery SQL (one ``.sql`` file per view).

:func:`views` lists them in dependency order; :func:`for_bigquery` qualifies
table names with ``project.dataset``; :func:`for_duckdb` transpiles to DuckDB
with sqlglot (imported only when called).

``compat/`` holds the seed-compatible views: one per table il-audit 0.1.3
wrote, with its name, columns and types, computed from ``events_deduped``.
After ``il-audit migrate from-0.1`` a compat view also reads the 0.1.3 rows
kept in ``legacy_<name>`` (:func:`with_legacy`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

from il_audit.schemas.seed_tables import legacy_name, standard_type, view_columns

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
    """A seed-compatible view, standing in for the 0.1.3 table of the same name."""

    @property
    def description(self) -> str:
        """The leading comment of the file, as one line."""
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line.removeprefix("--").strip())
        return " ".join(lines)

    @property
    def legacy_table(self) -> str | None:
        """Where ``il-audit migrate from-0.1`` keeps the 0.1.3 rows (compat views only)."""
        return legacy_name(self.name) if self.compat else None


@functools.cache
def views() -> tuple[View, ...]:
    """Every view, in creation order."""
    folder = resources.files("il_audit.sql")
    compat = folder.joinpath("compat")
    return tuple(
        View(name, compat.joinpath(f"{name}.sql").read_text("utf-8"), compat=True)
        if name in COMPAT_VIEW_NAMES
        else View(
            name,
            (compat if name in COMPAT_BASE_VIEWS else folder)
            .joinpath(f"{name}.sql")
            .read_text("utf-8"),
        )
        for name in VIEW_NAMES
    )


def view(name: str) -> View:
    """The view called ``name`` (``KeyError`` if there is none)."""
    for candidate in views():
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def with_legacy(compat_view: View, legacy_columns: Mapping[str, str]) -> View:
    """``compat_view`` reading the 0.1.3 rows of ``legacy_<name>`` too, as one (``UNION ALL``).

    ``legacy_columns`` maps the legacy table's column names to their BigQuery types. The
    view's columns are the 0.1.3 table's, then any it adds after them
    (:data:`~il_audit.schemas.seed_tables.LATER_COLUMNS`, e.g. 1.0.35's ``conversation_id``
    of ``chat_turns``). A view column the table lacks reads as NULL; one of another type
    is converted with ``SAFE_CAST``; columns the table has beyond the view's are left
    out, so both halves have the view's columns in the view's order.
    """
    if not compat_view.compat or compat_view.legacy_table is None:
        raise ValueError(f"{compat_view.name} is not a seed-compatible view")
    have = {name: standard_type(type_name) for name, type_name in legacy_columns.items()}
    columns = []
    for column in view_columns(compat_view.name):
        present = have.get(column.name)
        if present == column.type:
            columns.append(column.name)
        elif present is None:
            columns.append(f"CAST(NULL AS {column.type}) AS {column.name}")
        else:
            columns.append(f"SAFE_CAST({column.name} AS {column.type}) AS {column.name}")
    lines = compat_view.sql.rstrip().splitlines()
    header = len(lines) - len(list(itertools.dropwhile(lambda line: line.startswith("--"), lines)))
    select = ",\n  ".join(columns)
    body = "\n".join(lines[header:])
    sql = (
        "\n".join(lines[:header])
        + f"\n-- Since il-audit migrate from-0.1: the 0.1.3 rows ({compat_view.legacy_table}) "
        "and the new rows, read as one.\n"
        f"SELECT\n  {select}\nFROM {compat_view.legacy_table}\nUNION ALL (\n{body}\n)\n"
    )
    return View(compat_view.name, sql, compat=True)


def _relations() -> frozenset[str]:
    legacy = frozenset(legacy_name(name) for name in COMPAT_VIEW_NAMES)
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
