"""Retention per event family: how long each kind of row is kept, and the deletes that do it.

There are three physical tables, and the per-family tables are views over
``events``, so partition expiry alone cannot keep model-call text for 30 days
and logins for 400. The mechanism (``docs/retention.md``) is scheduled deletes
by event type:

- ``IL_AUDIT_RETENTION_DAYS`` is the default of every row (None: forever);
- ``IL_AUDIT_RETENTION_DAYS_BY_FAMILY`` overrides it per *family*: an event-type
  prefix on dotted boundaries (``chat.model_call`` is ``chat.model_call`` and
  ``chat.model_call.text.part``, not ``chat.model_calls``), the most specific
  family winning; the name ``dead_letters`` is the ``dead_letters`` table;
- partition expiry (BigQuery) is the outer bound: the longest of them all, so
  that it never removes a row a family keeps longer (:attr:`RetentionPolicy.partition_days`).

The day rule is BigQuery's partition expiration everywhere: the rows of UTC day D
go once D 00:00 is N days old, i.e. every row before the start of the day after
``(now - N days).date()``. This module is pure: it returns statements and cutoffs,
and the DuckDB sink, ``il-audit retention`` and the Terraform generator run them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from il_audit.schemas.tables import DEAD_LETTERS, EVENTS

_EVENTS_TIME: Final = EVENTS.partition_field or "occurred_at"
_DEAD_LETTERS_TIME: Final = DEAD_LETTERS.partition_field or "received_at"
"""The time columns retention reads: the tables' partition columns."""
DEAD_LETTERS_FAMILY: Final = DEAD_LETTERS.name
"""The family name that stands for the ``dead_letters`` table."""
DEFAULT_FAMILY: Final = "*"
"""How the rows no family names are shown (``doctor``, ``retention show``)."""
FAMILY_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
"""A family is a dotted event-type prefix (lowercase tokens), or ``dead_letters``."""


def parse_family_days(text: str) -> dict[str, int]:
    """``"chat.model_call=30, auth=400"`` as a dict; a malformed pair raises ValueError
    (the settings loader names the variable)."""
    days: dict[str, int] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        family, equals, value = (part.strip() for part in pair.partition("="))
        if not equals or not family or not value:
            raise ValueError(f"{pair.strip()!r} is not a family=days pair")
        try:
            days[family] = int(value)
        except ValueError:
            raise ValueError(f"{pair.strip()!r}: days must be a whole number") from None
    return check_family_days(days)


def check_family_days(days: Mapping[str, int]) -> dict[str, int]:
    """``days`` when every family is well formed and every value at least 1; else ValueError."""
    for family, value in days.items():
        if not FAMILY_PATTERN.match(family):
            raise ValueError(
                f"{family!r} is not a family: a dotted event-type prefix such as "
                "'chat.model_call', or 'dead_letters'"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{family}={value!r}: days must be a whole number of at least 1")
    return dict(days)


def cutoff(days: int, now: datetime) -> datetime:
    """The first instant kept: rows before it are expired (BigQuery's partition rule)."""
    last_expired: date = (now.astimezone(UTC) - timedelta(days=days)).date()
    return datetime.combine(last_expired + timedelta(days=1), datetime.min.time(), UTC)


def _sql_text(value: str) -> str:
    """A SQL string literal; family names are checked tokens, so quoting is all it takes."""
    return "'" + value.replace("'", "''") + "'"


def family_match(family: str) -> str:
    """SQL true for the event types of ``family`` (on both BigQuery and DuckDB).

    ``STARTS_WITH``, not ``LIKE``: ``_`` is a wildcard in a LIKE pattern.
    """
    text = _sql_text(family)
    return f"(event_type = {text} OR STARTS_WITH(event_type, {_sql_text(family + '.')}))"


@dataclass(frozen=True, slots=True)
class Deletion:
    """One scheduled delete: the rows of ``family`` in ``table`` older than ``days``."""

    family: str
    """An event family, :data:`DEFAULT_FAMILY` (rows of no family) or ``dead_letters``."""
    table: str
    time_column: str
    days: int
    condition: str | None
    """Which rows of the table (None: all of them), without the time condition."""

    def where(self, cutoff_sql: str) -> str:
        """The WHERE clause, given the SQL of the cutoff instant."""
        time_rule = f"{self.time_column} < {cutoff_sql}"
        return time_rule if self.condition is None else f"{time_rule} AND {self.condition}"

    def statement(self, table_sql: str, cutoff_sql: str) -> str:
        """``DELETE FROM table_sql WHERE ...``."""
        # Every part is ours: table names from the specs, families checked by FAMILY_PATTERN.
        return f"DELETE FROM {table_sql} WHERE {self.where(cutoff_sql)}"  # noqa: S608


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The effective retention of every family, from the two settings."""

    default_days: int | None
    """``IL_AUDIT_RETENTION_DAYS``; None keeps rows of no family forever."""
    family_days: Mapping[str, int]
    """``IL_AUDIT_RETENTION_DAYS_BY_FAMILY``."""

    @property
    def event_families(self) -> dict[str, int]:
        """The event families (``dead_letters`` aside), sorted by name (Terraform's order of
        map keys, so that the module's statements read the same)."""
        return dict(
            sorted(item for item in self.family_days.items() if item[0] != DEAD_LETTERS_FAMILY)
        )

    @property
    def dead_letter_days(self) -> int | None:
        """Days dead letters are kept: their override, else the default."""
        return self.family_days.get(DEAD_LETTERS_FAMILY, self.default_days)

    def effective(self) -> dict[str, int | None]:
        """Days per family as shown to people: the default row, each family, dead letters."""
        shown: dict[str, int | None] = {DEFAULT_FAMILY: self.default_days}
        shown.update(sorted(self.event_families.items()))
        shown[DEAD_LETTERS_FAMILY] = self.dead_letter_days
        return shown

    def family_of(self, event_type: str) -> str:
        """The family whose retention applies to ``event_type`` (most specific wins)."""
        found = [
            family
            for family in self.event_families
            if event_type == family or event_type.startswith(family + ".")
        ]
        return max(found, key=lambda family: family.count("."), default=DEFAULT_FAMILY)

    def days_for(self, event_type: str) -> int | None:
        """Days an event of ``event_type`` is kept (None: forever)."""
        family = self.family_of(event_type)
        return self.default_days if family == DEFAULT_FAMILY else self.family_days[family]

    @property
    def partition_days(self) -> int | None:
        """Partition expiry of ``events`` and ``dead_letters``: the outer bound, the longest
        retention of all (None when anything is kept forever)."""
        if self.default_days is None:
            return None
        return max([self.default_days, *self.family_days.values()])

    def deletions(self) -> list[Deletion]:
        """The deletes that apply the policy, one per family that has a retention.

        A family's delete leaves alone the more specific families inside it (they have
        their own), and the default's delete leaves alone every family.
        """
        found: list[Deletion] = []
        families = self.event_families
        for family, days in families.items():
            inner = [family_match(other) for other in families if other.startswith(family + ".")]
            condition = family_match(family)
            if inner:
                condition += " AND NOT (" + " OR ".join(inner) + ")"
            found.append(Deletion(family, EVENTS.name, _EVENTS_TIME, days, condition))
        if self.default_days is not None:
            rest = None
            if families:
                rest = "NOT (" + " OR ".join(family_match(f) for f in families) + ")"
            found.append(
                Deletion(DEFAULT_FAMILY, EVENTS.name, _EVENTS_TIME, self.default_days, rest)
            )
        if self.dead_letter_days is not None:
            found.append(
                Deletion(
                    DEAD_LETTERS_FAMILY,
                    DEAD_LETTERS.name,
                    _DEAD_LETTERS_TIME,
                    self.dead_letter_days,
                    None,
                )
            )
        return found


def bigquery_cutoff_literal(days: int, now: datetime) -> str:
    """The cutoff as a BigQuery literal, for a delete run now (``il-audit retention apply``)."""
    return f"TIMESTAMP('{cutoff(days, now).date().isoformat()}')"


SCHEDULED_CUTOFF: Final = "TIMESTAMP(DATE_SUB(CURRENT_DATE('UTC'), INTERVAL {days_before} DAY))"
"""The cutoff of a scheduled query: the start of the day after ``CURRENT_DATE() - days``,
i.e. today (UTC) less ``days - 1`` (``days_before``)."""


def bigquery_cutoff_scheduled(days: int) -> str:
    """The cutoff as BigQuery SQL relative to the day it runs (a scheduled query)."""
    return SCHEDULED_CUTOFF.format(days_before=days - 1)
