"""The package's record of the 0.1.3 tables, checked against the facts sheet."""

from __future__ import annotations

import pytest

from il_audit.schemas.seed_tables import (
    OLDER_TABLES,
    SEED_TABLES,
    TABLES_1_0_35,
    activity_columns,
    legacy_name,
    standard_type,
)
from tests.support.seed_schema import seed_tables, tables_1_0_35


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


def test_activity_columns_are_when_a_row_was_written() -> None:
    """logged_at tells when an older writer last wrote, sent_at for notification_sends, the
    session times for sessions; columns the table lacks are left out; cost_rates has none."""
    assert activity_columns("auth_events", ["event_id", "logged_at"]) == ("logged_at",)
    assert activity_columns("notification_sends", ["send_id", "sent_at"]) == ("sent_at",)
    assert activity_columns("chat_sessions", ["last_activity_at", "ended_at"]) == (
        "last_activity_at",
        "ended_at",
    )
    assert activity_columns("chat_visit_sessions", ["started_at", "ended_at"]) == (
        "ended_at",
        "started_at",
    )
    assert activity_columns("cost_rates", ["rate_version", "effective_from"]) == ()


def test_the_1_0_35_tables_are_the_23_of_the_facts_sheet() -> None:
    """TABLES_1_0_35 names 1.0.35's tables in the sheet's order; 0.1.3's twelve are among them."""
    assert list(TABLES_1_0_35) == list(tables_1_0_35())
    assert set(SEED_TABLES) <= set(TABLES_1_0_35) == OLDER_TABLES


def test_legacy_name_and_standard_types() -> None:
    """Renamed tables are legacy_<name>; the REST API's legacy type names are normalised."""
    assert legacy_name("auth_events") == "legacy_auth_events"
    assert [standard_type(name) for name in ("INTEGER", "FLOAT", "BOOLEAN", "STRING")] == [
        "INT64",
        "FLOAT64",
        "BOOL",
        "STRING",
    ]
