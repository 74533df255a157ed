"""The package's record of the 0.1.3 tables, checked against the facts sheet."""

from __future__ import annotations

import pytest

from il_audit.schemas.seed_tables import SEED_TABLES, activity_column, legacy_name, standard_type
from tests.support.seed_schema import seed_tables


def test_seed_tables_are_the_twelve_of_the_facts_sheet() -> None:
    """SEED_TABLES names the twelve 0.1.3 tables, no more, no fewer."""
    assert set(SEED_TABLES) == set(seed_tables())
    assert len(SEED_TABLES) == 12


@pytest.mark.parametrize("name", sorted(seed_tables()))
def test_seed_table_columns_match_the_facts_sheet(name: str) -> None:
    """Each table has the sheet's columns in its order, with its types and modes."""
    spec = SEED_TABLES[name]

    assert [(c.name, c.type, c.mode) for c in spec.columns] == [
        tuple(column) for column in seed_tables()[name]
    ]


def test_activity_column_is_when_a_row_was_written() -> None:
    """logged_at tells when a 0.1.3 writer last wrote; cost_rates has no such column."""
    assert activity_column("auth_events") == "logged_at"
    assert activity_column("chat_sessions") == "last_activity_at"
    assert activity_column("cost_rates") is None


def test_legacy_name_and_standard_types() -> None:
    """Renamed tables are legacy_<name>; the REST API's legacy type names are normalised."""
    assert legacy_name("auth_events") == "legacy_auth_events"
    assert [standard_type(name) for name in ("INTEGER", "FLOAT", "BOOLEAN", "STRING")] == [
        "INT64",
        "FLOAT64",
        "BOOL",
        "STRING",
    ]
