"""What erasure needs from a warehouse engine (DuckDB, BigQuery), in engine-neutral terms.

Conditions are data (:class:`Where` of :class:`Term`), each engine renders them in its
own SQL with bound parameters: no identifier ever goes into SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from il_audit.operations.errors import PendingRowsError

__all__ = [
    "Assignment",
    "ErasureStore",
    "PendingRowsError",
    "Relation",
    "Term",
    "Where",
    "not_null_guard",
    "render_where",
]

How = Literal["eq", "eq_ci", "contains", "contains_ci", "in"]


@dataclass(frozen=True, slots=True)
class Term:
    """``column`` equals (``eq``; ``eq_ci`` ignoring case), contains, or is ``in`` ``value``."""

    column: str
    value: str | tuple[str, ...]
    how: How = "eq"


@dataclass(frozen=True, slots=True)
class Where:
    """Rows where any of ``any_of`` holds and every column of ``all_null`` is NULL."""

    any_of: tuple[Term, ...]
    all_null: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Relation:
    """A table or view of the warehouse, with its columns (and which of them are JSON)."""

    name: str
    kind: Literal["table", "view"]
    columns: tuple[str, ...]
    types: Mapping[str, str] = field(default_factory=dict)
    """Column -> the engine's type name (BigQuery casts parameters to it)."""

    def is_json(self, column: str) -> bool:
        """Whether ``column`` is of the engine's JSON type."""
        return self.types.get(column, "").upper() == "JSON"


@dataclass(frozen=True, slots=True)
class Assignment:
    """``column = CASE WHEN cases[0].where THEN cases[0].value ... ELSE column END``."""

    column: str
    cases: tuple[tuple[Where, str | None], ...]


class ErasureStore(Protocol):
    """One warehouse, as erasure sees it."""

    @property
    def description(self) -> str:
        """``DuckDB file PATH`` or ``BigQuery project.dataset``, for the output."""
        ...

    def relations(self) -> list[Relation]:
        """Every table and view of the warehouse."""
        ...

    def fetch(
        self, relation: Relation, where: Where, columns: Sequence[str]
    ) -> list[dict[str, Any]]:
        """``columns`` of the rows of ``relation`` matching ``where``."""
        ...

    def count(self, relation: Relation, where: Where) -> int:
        """How many rows of ``relation`` match ``where``."""
        ...

    def update_keyed(
        self,
        relation: Relation,
        key: str,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str],
    ) -> int:
        """Set ``columns`` of each row identified by its ``key`` value; one statement.

        Each row holds the key and the complete new value of every column. Raises
        :class:`PendingRowsError` when the engine cannot change the rows yet.
        """
        ...

    def update_where(
        self, relation: Relation, assignments: Sequence[Assignment], where: Where
    ) -> int | None:
        """One ``UPDATE ... SET (CASE ...) WHERE`` for a table without a key; the rows changed
        (None when the engine does not say)."""
        ...

    def write_event(self, line: bytes) -> None:
        """Write one envelope line through the subscriber pipeline into ``events``."""
        ...

    def finish(self, real_run: bool) -> list[str]:
        """Close the engine (DuckDB: rewrite the file after a real run); notes for the output."""
        ...


def render_where(where: Where, param: Callable[[Any], str], quote: Callable[[str], str]) -> str:
    """``where`` as SQL; ``param(value)`` binds a value (a tuple: a list) and returns its
    placeholder, ``quote`` quotes a column name."""
    terms = []
    for term in where.any_of:
        column = quote(term.column)
        if term.how == "in":
            if not term.value:
                continue
            terms.append(f"{column} IN {param(tuple(term.value))}")
        elif term.how == "eq":
            terms.append(f"{column} = {param(term.value)}")
        elif term.how == "eq_ci":
            terms.append(f"LOWER({column}) = {param(str(term.value).lower())}")
        elif term.how == "contains":
            terms.append(f"STRPOS({column}, {param(term.value)}) > 0")
        else:
            terms.append(f"STRPOS(LOWER({column}), {param(str(term.value).lower())}) > 0")
    condition = " OR ".join(terms) if terms else "FALSE"
    nulls = "".join(f" AND {quote(column)} IS NULL" for column in where.all_null)
    return f"({condition}){nulls}"


def not_null_guard(quoted_column: str, value: str | None) -> str:
    """`` AND col IS NOT NULL`` when an assignment sets a value (a pseudonym): NULL stays NULL."""
    return "" if value is None else f" AND {quoted_column} IS NOT NULL"
