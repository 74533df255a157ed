"""Table, view and column descriptions of the warehouse: what analysts read in BigQuery.

Every view standing in for a 0.1.3 or 1.0.35 table, and 1.0.35's helper views
(``v_chat_model_calls`` and the three ``v_chat_retrieval_*``: a chat table with
columns of its turn), has its columns described (:func:`described_columns`):
``infra apply`` and the generated Terraform put the descriptions on the
BigQuery views.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from il_audit.schemas.column_descriptions import column_description
from il_audit.schemas.seed_tables import LATER_TABLES, SEED_TABLES, view_columns
from il_audit.schemas.seed_tables_1035 import SEED_1035_TABLES, TABLE_DESCRIPTIONS
from il_audit.schemas.tables import BigQueryType, ColumnSpec

VIEW_CHAT_MODEL_CALLS: Final = "v_chat_model_calls"
VIEW_CHAT_RETRIEVAL_CANDIDATES: Final = "v_chat_retrieval_candidates"
VIEW_CHAT_RETRIEVAL_CHUNKS: Final = "v_chat_retrieval_chunks"
VIEW_CHAT_RETRIEVAL_PASSES: Final = "v_chat_retrieval_passes"

_TURN_SUMS: Final = (
    " It repeats the whole turn on each row: do not sum it. Title rows have no turn."
)
_QUESTION: Final = "The turn's question (null when query text storage is off)."
VIEW_BASES: Final[Mapping[str, str]] = {
    VIEW_CHAT_MODEL_CALLS: "model_call_text",
    VIEW_CHAT_RETRIEVAL_CANDIDATES: "retrieval_candidates",
    VIEW_CHAT_RETRIEVAL_CHUNKS: "retrieval_chunks",
    VIEW_CHAT_RETRIEVAL_PASSES: "retrieval_passes",
}
"""The 1.0.35 table each helper view reads."""
_ADDED_TYPES: Final[Mapping[str, BigQueryType]] = {
    "question": "STRING",
    "retrieval_query": "STRING",
    "turn_status": "STRING",
    "turn_input_tokens": "INT64",
    "turn_output_tokens": "INT64",
    "turn_api_cost_usd": "FLOAT64",
    "workflow": "STRING",
}
VIEW_ADDED_COLUMNS: Final[Mapping[str, Mapping[str, str]]] = {
    VIEW_CHAT_MODEL_CALLS: {
        "question": _QUESTION,
        "retrieval_query": "The turn's retrieval query.",
        "turn_status": "Outcome of the turn." + _TURN_SUMS,
        "turn_input_tokens": "Input tokens of the whole turn." + _TURN_SUMS,
        "turn_output_tokens": "Output tokens of the whole turn." + _TURN_SUMS,
        "turn_api_cost_usd": "API cost in USD of the whole turn." + _TURN_SUMS,
    },
    VIEW_CHAT_RETRIEVAL_CANDIDATES: {
        "question": _QUESTION,
        "retrieval_query": "The turn's retrieval query.",
        "workflow": "The turn's workflow.",
    },
    VIEW_CHAT_RETRIEVAL_CHUNKS: {"question": _QUESTION},
    VIEW_CHAT_RETRIEVAL_PASSES: {"question": _QUESTION},
}
"""Columns each 1.0.35 helper view adds to its base table, with their descriptions."""
VIEW_DESCRIPTIONS: Final[Mapping[str, str]] = {
    VIEW_CHAT_MODEL_CALLS: "Each model call with its chat turn's question, retrieval query, "
    "status, tokens and cost.",
    VIEW_CHAT_RETRIEVAL_CANDIDATES: "Retrieval candidates with their turn's question, "
    "retrieval query and workflow.",
    VIEW_CHAT_RETRIEVAL_CHUNKS: "Retrieved chunks with their turn's question.",
    VIEW_CHAT_RETRIEVAL_PASSES: "Search passes with their turn's question.",
}


def table_description(table_id: str) -> str:
    """What the 1.0.35 table (a view here) ``table_id`` holds ("" for an unknown id)."""
    return TABLE_DESCRIPTIONS.get(table_id, "")


def view_description(view_id: str) -> str:
    """What the 1.0.35 table or helper view ``view_id`` holds ("" for an unknown id)."""
    return TABLE_DESCRIPTIONS.get(view_id) or VIEW_DESCRIPTIONS.get(view_id, "")


def described_columns(name: str) -> tuple[ColumnSpec, ...]:
    """The columns of the view standing in for the 0.1.3 or 1.0.35 table ``name``, in order,
    each with its description and the mode a view has (NULLABLE unless repeated); for a
    1.0.35 helper view, its base table's, then the ones it adds."""
    if name in VIEW_BASES:
        added = tuple(
            ColumnSpec(column, _ADDED_TYPES[column], "NULLABLE", description)
            for column, description in VIEW_ADDED_COLUMNS[name].items()
        )
        return described_columns(VIEW_BASES[name]) + added
    if name in SEED_TABLES and name != "cost_rates":
        columns = view_columns(name)
    else:
        columns = (SEED_1035_TABLES.get(name) or LATER_TABLES[name]).columns
    return tuple(
        ColumnSpec(
            column.name,
            column.type,
            "REPEATED" if column.mode == "REPEATED" else "NULLABLE",
            column.description or column_description(name, column.name),
        )
        for column in columns
    )


def schema_field_names(table_id: str) -> frozenset[str]:
    """The column names of ``table_id``: the columns its view has here (the 0.1.3 table's,
    then 1.0.35's additions), or a table's; empty for an unknown id."""
    if table_id == "cost_rates":
        return frozenset(SEED_1035_TABLES[table_id].column_names)
    if table_id in SEED_TABLES or table_id in LATER_TABLES:
        return frozenset(column.name for column in view_columns(table_id))
    return frozenset()


def view_column_descriptions(view_id: str) -> dict[str, str]:
    """Column name -> description of a view: a 1.0.35 helper view (its base table's columns,
    then the ones it adds), or a view standing in for a table; empty for an unknown id."""
    if view_id in VIEW_BASES or view_id in SEED_1035_TABLES or view_id in SEED_TABLES:
        return {column.name: column.description for column in described_columns(view_id)}
    return {}
