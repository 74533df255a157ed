"""JSON for the values rows carry: UTC timestamps, dates and exact decimals.

One small module that the sinks, the CLI's output and the dead-letter tools
share, so that a row reads the same wherever it is printed or stored.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson


def json_default(value: Any) -> Any:
    """JSON for timestamps (ISO 8601, ``Z``), dates and exact decimals (as strings)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, ascii_only: bool = False) -> str:
    """Compact JSON with :func:`json_default` (``ascii_only`` escapes lone surrogates too).

    NaN and infinities become ``null``, as orjson writes them (:func:`dumps_line`):
    a forged line's ``NaN`` parses into a payload, and ``NaN`` text in a JSON column
    would make BigQuery refuse the row where DuckDB stored it.
    """
    try:
        return json.dumps(
            value,
            default=json_default,
            separators=(",", ":"),
            ensure_ascii=ascii_only,
            allow_nan=False,
        )
    except ValueError:
        return json.dumps(
            _finite(value), default=json_default, separators=(",", ":"), ensure_ascii=ascii_only
        )


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def dumps_line(value: Any) -> bytes:
    """:func:`dumps` as UTF-8 bytes, through orjson (7-10 times faster on rows).

    A string orjson refuses (a lone surrogate) falls back to :func:`dumps` with
    ``ascii_only``, which escapes it; either way the line is valid UTF-8 JSON.
    """
    try:
        return orjson.dumps(value, default=_decimal_text, option=orjson.OPT_UTC_Z)
    except (TypeError, orjson.JSONEncodeError):
        return dumps(value, ascii_only=True).encode("ascii")


def _decimal_text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
