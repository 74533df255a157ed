"""The twelve il-audit 0.1.3 tables as the seed facts sheet lists them, and the later columns
the chat views add after theirs.

Parsed from ``tests/data/seed-0.1.3-tables.md``, a verbatim excerpt of the
facts sheet, so that the tests check the compat views and the migration
against the sheet itself rather than against the package's own transcription
(``il_audit.schemas.seed_tables``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, NamedTuple

EXCERPT = Path(__file__).resolve().parents[1] / "data" / "seed-0.1.3-tables.md"
_TYPES = {"S": "STRING", "I": "INT64", "F": "FLOAT64", "B": "BOOL", "TS": "TIMESTAMP", "D": "DATE"}
_ROW = re.compile(r"^\| TABLE_\w+ \| `(?P<name>\w+)` \| (?P<columns>.+?) \|$")
_COUNT = re.compile(r"\s*\(\d+(?: in all)?\)$")
_COLUMN = re.compile(r"^(?P<name>\w+) (?P<type>[A-Z]+)(?P<suffix>!|\[\])?$")


class SeedColumn(NamedTuple):
    """One column of a 0.1.3 table: name, BigQuery type, mode."""

    name: str
    type: str
    mode: str


def _column(text: str) -> SeedColumn:
    match = _COLUMN.match(text.strip())
    if match is None:
        raise ValueError(f"not a column of the facts sheet: {text!r}")
    mode = {"!": "REQUIRED", "[]": "REPEATED", None: "NULLABLE"}[match["suffix"]]
    return SeedColumn(match["name"], _TYPES[match["type"]], mode)


@functools.cache
def seed_tables() -> dict[str, tuple[SeedColumn, ...]]:
    """Every 0.1.3 table by name, with its columns in order."""
    text = EXCERPT.read_text("utf-8")
    envelope = re.search(r"Shared envelope, `ENV18`[^\n]*\n`([^`]+)`", text)
    if envelope is None:
        raise ValueError("the excerpt has no ENV18 line")
    tables: dict[str, tuple[SeedColumn, ...]] = {}
    for line in text.splitlines():
        row = _ROW.match(line)
        if row is None:
            continue
        columns = _COUNT.sub("", row["columns"])
        columns = columns.replace("ENV18 + ", envelope[1] + ", ").replace("ENV18", envelope[1])
        tables[row["name"]] = tuple(_column(part) for part in columns.split(","))
    return tables


def columns(name: str) -> list[tuple[str, str]]:
    """(name, type) of each column of the 0.1.3 table ``name``, in order."""
    return [(column.name, column.type) for column in seed_tables()[name]]


def schema_fields(name: str) -> list[Any]:
    """``google.cloud.bigquery.SchemaField`` list of a 0.1.3 table (to create it as 0.1.3 did)."""
    from google.cloud import bigquery

    return [
        bigquery.SchemaField(column.name, column.type, mode=column.mode)
        for column in seed_tables()[name]
    ]


_LATER_COLUMNS: dict[str, list[tuple[str, str]]] = {
    # What the chat views add after the 0.1.3 columns: 1.0.35's additions (facts sheet 5.6,
    # in its order, those 0.1.3 lacked), then il-audit's.
    "chat_turns": [
        ("conversation_id", "STRING"),
        ("visit_session_id", "STRING"),
        ("environment", "STRING"),
        ("user_message_count", "INT64"),
        ("assistant_message_count", "INT64"),
        ("message_count", "INT64"),
        ("workflow", "STRING"),
        ("metadata_json", "STRING"),
        ("error_class", "STRING"),
        ("app_version", "STRING"),
        ("question_hmac", "STRING"),
        ("question_length", "INT64"),
        ("time_to_first_token_ms", "INT64"),
        ("model_calls", "INT64"),
        ("pricing_status", "STRING"),
    ],
    "chat_sessions": [
        ("conversation_id", "STRING"),
        ("visit_session_id", "STRING"),
        ("environment", "STRING"),
        ("user_message_count", "INT64"),
        ("assistant_message_count", "INT64"),
        ("message_count", "INT64"),
    ],
    "api_usage_events": [("environment", "STRING"), ("metadata_json", "STRING")],
    "auth_events": [("environment", "STRING"), ("login_provider", "STRING"), ("path", "STRING")],
    "user_profile_events": [("environment", "STRING")],
    "config_change_events": [("environment", "STRING")],
    "ui_interaction_events": [("environment", "STRING"), ("path", "STRING")],
    "ingest_job_events": [("environment", "STRING")],
    "ingest_file_events": [
        ("environment", "STRING"),
        ("correlation_id", "STRING"),
        ("started_at", "TIMESTAMP"),
        ("ingestion_type", "STRING"),
        ("error_traceback", "STRING"),
    ],
    "drive_events": [("environment", "STRING")],
    "resource_usage_events": [("environment", "STRING")],
}


def later_columns(name: str) -> list[tuple[str, str]]:
    """(name, type) of the columns the compat view ``name`` has after the 0.1.3 table's."""
    return list(_LATER_COLUMNS.get(name, []))
