"""JSON text for audit fields that hold JSON (``metadata_json``, ``settings_json``...), as 1.0.35.

``dumps_audit_json(value)`` is ``json.dumps(value, ensure_ascii=False,
default=audit_json_default)``: non-ASCII text stays as it is, and dates, UUIDs
and enums become JSON; anything else that JSON cannot hold raises
``TypeError``, so a mistake shows where it is made rather than as odd text in
the warehouse.
"""

from __future__ import annotations

import json
from datetime import date
from enum import Enum
from typing import Any
from uuid import UUID

__all__ = ["audit_json_default", "dumps_audit_json"]


def audit_json_default(value: object) -> object:
    """JSON for what ``json`` cannot write itself: a datetime or date as ``isoformat()``, a
    UUID as its string, an Enum as its ``value``; anything else raises ``TypeError``."""
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps_audit_json(value: Any) -> str:
    """``value`` as JSON text: ``json.dumps(value, ensure_ascii=False,
    default=audit_json_default)``."""
    return json.dumps(value, ensure_ascii=False, default=audit_json_default)
