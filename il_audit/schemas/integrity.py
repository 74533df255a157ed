"""Row hashes: the canonical form of a stored row, its SHA-256, and the per-row salt.

The subscriber's sinks stamp every ``events`` and ``dead_letters`` row with a random
``row_salt`` and ``row_hash = SHA-256(canonical_row(table, row))`` before writing it;
``il-audit ledger seal`` and ``il-audit verify`` hash what a query returns. Both sides
must agree although the engines hand values back in their own shapes, so the canonical
form is defined on *read-back* values:

- JSON columns: parsed when they come back as text (DuckDB), then written with sorted
  keys, compact separators and UTF-8 (BigQuery re-serialises JSON its own way); the
  whole row is one such JSON object (orjson's output: floats in shortest round-trip form);
- numbers: a float that is integral is written as an int (anywhere, JSON included); a
  NUMERIC is the normalised decimal text (``1.500000000`` and ``1.5`` are one value);
- TIMESTAMP: UTC ISO 8601 with microseconds; DATE: ISO;
- RECORD and REPEATED columns recursively, by the table spec's fields;
- NULL columns and fields, and empty arrays, are omitted: BigQuery cannot tell an empty
  array from NULL, and a column added later (NULL in old rows) must not change old hashes;
- ``row_hash`` itself and ``erased_by`` (set by erasure) are not hashed; the salt is.

Without the salt nobody can confirm a guessed e-mail address by hashing the rest of a
row: erasure sets ``row_salt`` to NULL together with the person's values.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import secrets
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import orjson

from il_audit.schemas.tables import DEAD_LETTERS, EVENTS, ColumnSpec, TableSpec

SALT_COLUMN: Final = "row_salt"
HASH_COLUMN: Final = "row_hash"
ERASED_BY_COLUMN: Final = "erased_by"
NOT_HASHED: Final = frozenset({HASH_COLUMN, ERASED_BY_COLUMN})
"""Columns the canonical form leaves out: the hash itself, and erasure's own mark."""
CANONICAL_VERSION: Final = b"il-audit-row-v1"
HASHED_TABLES: Final[Mapping[str, TableSpec]] = {
    EVENTS.name: EVENTS,
    DEAD_LETTERS.name: DEAD_LETTERS,
}
"""The tables whose rows carry a salt and a hash."""


def new_salt() -> str:
    """A fresh salt: 32 hex characters (16 random bytes)."""
    return secrets.token_hex(16)


def _timestamp(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:  # a naive read-back is UTC (DuckDB TIMESTAMP, BigQuery DATETIME)
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat(timespec="microseconds"))


def _decimal(value: Any) -> str:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _number(value: Any) -> Any:
    if isinstance(value, int):  # bool included: True stays true
        return value
    number = float(value)
    if not math.isfinite(number):
        return repr(number)  # 'nan', 'inf': JSON has no such numbers
    return int(number) if number.is_integer() else number


def _plain(value: Any) -> Any:
    """A value of a JSON column (or of a column the spec does not know), canonicalised."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)


def _json_column(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8")
    if isinstance(value, str):  # JSON read back as text (DuckDB): every JSON column is an object
        value = json.loads(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # written as null by the sinks' JSON encoder
    return _plain(value)


def _text(value: Any) -> str:
    return value if type(value) is str else str(value)


def _date(value: Any) -> str:
    return value if isinstance(value, str) else str(value.isoformat())


_SCALARS: Final[dict[str, Callable[[Any], Any]]] = {
    "JSON": _json_column,
    "TIMESTAMP": _timestamp,
    "DATE": _date,
    "NUMERIC": _decimal,
    "FLOAT64": _number,
    "INT64": _number,
    "BOOL": bool,
    "STRING": _text,
}


def _converter(column: ColumnSpec) -> Callable[[Any], Any]:
    """The function that canonicalises a (non-NULL) value of ``column``; None: omitted."""
    scalar: Callable[[Any], Any]
    if column.type == "RECORD":
        fields = _converters(column.fields)
        scalar = functools.partial(_record, fields)
    else:
        scalar = _SCALARS[column.type]
    if column.mode != "REPEATED":
        return scalar

    def repeated(values: Any) -> Any:
        return [scalar(item) for item in values if item is not None] or None

    return repeated


def _converters(fields: tuple[ColumnSpec, ...]) -> dict[str, Callable[[Any], Any]]:
    """Column name -> converter."""
    return {field.name: _converter(field) for field in fields}


_BUILT: Final[dict[int, tuple[TableSpec, dict[str, Callable[[Any], Any]]]]] = {}


def _table_converters(spec: TableSpec) -> dict[str, Callable[[Any], Any]]:
    """The converters of a table, built once per spec object: the writer runs this per row,
    and hashing a spec's nested columns for a cache key cost more than the row itself."""
    built = _BUILT.get(id(spec))
    if built is None or built[0] is not spec:
        built = _BUILT[id(spec)] = (spec, _converters(spec.columns))
    return built[1]


def _unknown(value: Any) -> Any:
    """A column the spec does not know: canonicalised by its Python type."""
    plain = _plain(value)
    return None if plain == [] else plain


def _record(converters: Mapping[str, Callable[[Any], Any]], row: Any) -> dict[str, Any]:
    if not isinstance(row, Mapping):  # a pydantic model (a usage item) written as it is
        row = row.model_dump() if hasattr(row, "model_dump") else dict(row)
    out: dict[str, Any] = {}
    for name, raw in row.items():
        if raw is None or name in NOT_HASHED:
            continue
        convert = converters.get(name)
        kind = type(raw)
        # The common cases, without a call: a STRING column's str, an integer's int (the
        # writer hashes every row it writes, so this loop is on the ingestion path).
        if (kind is str and convert is _text) or (kind is int and convert is _number):
            out[name] = raw
            continue
        value = convert(raw) if convert is not None else _unknown(raw)
        if value is not None:
            out[name] = value
    return out


def _spec(table: str | TableSpec) -> TableSpec:
    if isinstance(table, TableSpec):
        return table
    return HASHED_TABLES[table]


def canonical_row(table: str | TableSpec, row: Mapping[str, Any]) -> bytes:
    """The canonical bytes of one row of ``table`` (see the module doc): what is hashed."""
    spec = _spec(table)
    record = _record(_table_converters(spec), row)
    try:
        # orjson writes sorted keys, no spaces, UTF-8 unescaped, floats shortest round-trip.
        body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate, an int over 64 bits
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        body = text.encode("utf-8", "surrogatepass")
    return b"%s\n%s\n%s" % (CANONICAL_VERSION, spec.name.encode(), body)


def row_hash(table: str | TableSpec, row: Mapping[str, Any]) -> str:
    """SHA-256 (64 hex characters) of :func:`canonical_row`."""
    return hashlib.sha256(canonical_row(table, row)).hexdigest()


def stamp_rows(table: str | TableSpec, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``row_salt`` (kept when present), ``row_hash`` and ``erased_by`` set.

    A row given as a dict is stamped in place, so the caller holds what was written (the
    pipeline's rows, a test's expected rows); any other mapping is copied first.
    """
    spec = _spec(table)
    stamped: list[dict[str, Any]] = []
    for row in rows:
        target: MutableMapping[str, Any] = row if isinstance(row, dict) else dict(row)
        if not target.get(SALT_COLUMN):
            target[SALT_COLUMN] = new_salt()
        target.setdefault(ERASED_BY_COLUMN, None)
        target[HASH_COLUMN] = row_hash(spec, target)
        stamped.append(target)  # type: ignore[arg-type]  # a dict either way
    return stamped
