"""Row hashes: the canonical form of a stored row, its SHA-256, and the per-row salt.

The subscriber's sinks stamp every ``events`` and ``dead_letters`` row with a random
``row_salt`` and ``row_hash = SHA-256(canonical_row(table, row))`` before writing it;
``il-audit ledger seal`` and ``il-audit verify`` hash what a query returns. Both sides
must agree although the engines hand values back in their own shapes, so the canonical
form is defined on *read-back* values:

- JSON columns: parsed when they come back as text (DuckDB), then written with sorted
  keys, compact separators and UTF-8 (BigQuery re-serialises JSON its own way);
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

import hashlib
import json
import math
import secrets
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

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


def _scalar(column: ColumnSpec, value: Any) -> Any:
    kind = column.type
    if kind == "JSON":
        return _json_column(value)
    if kind == "RECORD":
        return _record(column.fields, value)
    if kind == "TIMESTAMP":
        return _timestamp(value)
    if kind == "DATE":
        return value if isinstance(value, str) else value.isoformat()
    if kind == "NUMERIC":
        return _decimal(value)
    if kind in ("FLOAT64", "INT64"):
        return _number(value)
    if kind == "BOOL":
        return bool(value)
    return str(value)


def _value(column: ColumnSpec | None, value: Any) -> Any:
    """The canonical value, or None when it is omitted (NULL, an empty array)."""
    if value is None:
        return None
    if column is None:
        plain = _plain(value)
        return None if plain == [] else plain
    if column.mode == "REPEATED":
        items = [_scalar(column, item) for item in value if item is not None]
        return items or None
    return _scalar(column, value)


def _record(fields: Iterable[ColumnSpec], row: Any) -> dict[str, Any]:
    known = {field.name: field for field in fields}
    if not isinstance(row, Mapping):  # a pydantic model (a usage item) written as it is
        row = row.model_dump() if hasattr(row, "model_dump") else dict(row)
    out: dict[str, Any] = {}
    for name, raw in row.items():
        if name in NOT_HASHED:
            continue
        value = _value(known.get(name), raw)
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
    body = json.dumps(
        _record(spec.columns, row), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return b"%s\n%s\n%s" % (
        CANONICAL_VERSION,
        spec.name.encode(),
        body.encode("utf-8", "surrogatepass"),
    )


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
