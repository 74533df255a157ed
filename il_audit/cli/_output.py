"""Rendering query results: aligned table, JSON array of objects, or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from il_audit._json import json_default

FORMATS = ("table", "json", "csv")


def plain(value: Any) -> Any:
    """A JSON-friendly value: exact decimals as strings, times in ISO 8601."""
    if isinstance(value, (Decimal, datetime, date)):
        return json_default(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, str):
        # DuckDB returns JSON columns as text; show them as the JSON they are.
        if value[:1] in "{[" and value[-1:] in "}]":
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    converted = plain(value)
    if isinstance(converted, (dict, list)):
        return json.dumps(converted, ensure_ascii=False, separators=(",", ":"))
    return str(converted)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """The result in ``fmt`` (``table``, ``json`` or ``csv``)."""
    if fmt == "json":
        return json.dumps(
            [
                {name: plain(value) for name, value in zip(columns, row, strict=True)}
                for row in rows
            ],
            ensure_ascii=False,
            indent=2,
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(value) for value in row] for row in rows)
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(name) for name in columns]
    for row in cells:
        widths = [max(width, len(text)) for width, text in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(row[i], (int, float, Decimal)) or row[i] is None for row in rows) and rows
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if numeric[i] else value.ljust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(list(columns)), "  ".join("-" * width for width in widths)]
    out.extend(line(row) for row in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
