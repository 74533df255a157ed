"""What erasure does to one row: the inventory's ``on_erase`` applied column by column.

Pure functions, no engine: the engines fetch the rows, these compute the new values,
and the engines write back only what changed (so a re-run changes nothing twice).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from il_audit.operations.erase_subject import (
    ACTOR,
    PSEUDONYM_PREFIX,
    Subject,
    role_columns,
)
from il_audit.schemas.errors import UntaggedColumnError
from il_audit.schemas.personal_data import (
    OnErase,
    PersonalData,
    personal_data,
    scrub_json,
)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):  # JSON kept as text (DuckDB's JSON, the legacy *_json columns)
        try:
            parsed = json.loads(value)
        except ValueError:
            return None  # not JSON: free text under a JSON column's name, removed
        cleaned = scrub_json(parsed)
        return None if cleaned is None else json.dumps(cleaned, ensure_ascii=False)
    return scrub_json(value)


def erased_value(tag: PersonalData, value: Any, pseudonym: str) -> Any:
    """The value ``tag.on_erase`` leaves of ``value`` (NULL stays NULL, a pseudonym stays)."""
    if value is None or tag.on_erase is OnErase.KEEP:
        return value
    if tag.on_erase is OnErase.NULL:
        return None
    if tag.on_erase is OnErase.PSEUDONYMISE:
        if isinstance(value, str) and value.startswith(PSEUDONYM_PREFIX):
            return value  # erased before: keep the first erasure's pseudonym
        return pseudonym
    return _scrubbed(value)


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, str) and not isinstance(new, str) and new is not None:
        try:
            return bool(json.loads(old) == new)
        except ValueError:
            return False
    return bool(old == new)


def changes(
    relation: str, row: Mapping[str, Any], columns: Iterable[str], pseudonym: str
) -> dict[str, Any]:
    """``{column: new value}`` for the ``columns`` of ``row`` that erasure changes.

    Columns the inventory does not know are left as they are (the inventory test fails on
    any untagged column of il-audit's tables, views and legacy tables).
    """
    changed: dict[str, Any] = {}
    for column in columns:
        if column not in row:
            continue
        try:
            tag = personal_data(relation, column)
        except UntaggedColumnError:
            continue
        new = erased_value(tag, row[column], pseudonym)
        if not _same(row[column], new):
            changed[column] = new
    return changed


def row_changes(
    relation: str,
    row: Mapping[str, Any],
    subject: Subject,
    match_columns: Mapping[str, str],
    pseudonym: str,
    *,
    whole_row: bool = False,
) -> dict[str, Any]:
    """What erasure changes in one fetched row of ``relation``.

    The whole row's personal columns when ``whole_row`` (a correlated text, a dead letter
    whose raw line is the subject's) or when the subject is the row's actor; otherwise
    only the columns of the roles the subject holds in it (a reporter, a file owner).
    """
    roles = {role for column, role in match_columns.items() if subject.matches(row.get(column))}
    if whole_row or ACTOR in roles:
        return changes(relation, row, row.keys(), pseudonym)
    chosen: list[str] = []
    for role in sorted(roles):
        chosen.extend(role_columns(relation, row.keys(), role))
    return changes(relation, row, chosen, pseudonym)
