"""The analytics views, written once in BigQuery SQL (one ``.sql`` file per view).

:func:`views` lists them in dependency order; :func:`for_bigquery` qualifies
table names with ``project.dataset``; :func:`for_duckdb` transpiles to DuckDB
with sqlglot (imported only when called).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Final

# Creation order: a view must come after the views it reads.
VIEW_NAMES: Final = (
    "events_deduped",
    "events_by_type_daily",
    "active_users_daily",
    "cost_by_app_daily",
    "cost_by_model_daily",
    "dead_letters_by_reason",
)
BASE_TABLES: Final = frozenset({"events", "dead_letters", "cost_rates"})


@dataclass(frozen=True)
class View:
    """A named view and its BigQuery SQL (the ``SELECT``, without ``CREATE``)."""

    name: str
    sql: str

    @property
    def description(self) -> str:
        """The leading comment of the file, as one line."""
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line.removeprefix("--").strip())
        return " ".join(lines)


@functools.cache
def views() -> tuple[View, ...]:
    """Every view, in creation order."""
    folder = resources.files("il_audit.sql")
    return tuple(
        View(name, folder.joinpath(f"{name}.sql").read_text("utf-8")) for name in VIEW_NAMES
    )


def _relations() -> frozenset[str]:
    return BASE_TABLES | frozenset(VIEW_NAMES)


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
    """BigQuery SQL as DuckDB SQL, with `project.dataset.` qualifiers dropped."""
    import sqlglot
    from sqlglot import exp

    statements = []
    for tree in sqlglot.parse(sql, read="bigquery"):
        if tree is None:
            continue
        for table in tree.find_all(exp.Table):
            table.set("db", None)
            table.set("catalog", None)
        statements.append(tree.sql(dialect="duckdb"))
    return ";\n".join(statements)
