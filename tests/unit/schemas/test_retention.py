"""Retention per event family: the policy the settings give, its deletes, its outer bound."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from il_audit.config.settings import AuditSettings
from il_audit.errors import SettingsError
from il_audit.report import Period, RetentionWindow
from il_audit.schemas.retention import (
    RetentionPolicy,
    bigquery_cutoff_literal,
    bigquery_cutoff_scheduled,
    cutoff,
    parse_family_days,
)

POLICY = RetentionPolicy(400, {"chat.model_call": 30, "chat": 90, "auth": 400, "dead_letters": 30})
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def test_the_setting_is_parsed_into_families() -> None:
    """IL_AUDIT_RETENTION_DAYS_BY_FAMILY: comma-separated family=days pairs, spaces allowed."""
    settings = AuditSettings.from_env(
        {"IL_AUDIT_RETENTION_DAYS": "400",
         "IL_AUDIT_RETENTION_DAYS_BY_FAMILY": " chat.model_call=30, auth=400 ,dead_letters=30"}
    )  # fmt: skip
    assert settings.retention == RetentionPolicy(
        400, {"chat.model_call": 30, "auth": 400, "dead_letters": 30}
    )
    assert parse_family_days("") == {}


@pytest.mark.parametrize("text", ["chat=0", "Chat=3", "chat", "chat=x", "chat.=3", "a b=3"])
def test_a_bad_family_or_days_is_a_settings_error(text: str) -> None:
    """A malformed pair, an upper-case or dangling family, days under 1: the variable is named."""
    with pytest.raises(SettingsError, match="IL_AUDIT_RETENTION_DAYS_BY_FAMILY"):
        AuditSettings.from_env({"IL_AUDIT_RETENTION_DAYS_BY_FAMILY": text})


@pytest.mark.parametrize(
    ("event_type", "family", "days"),
    [
        ("chat.model_call.text", "chat.model_call", 30),
        ("chat.model_call.text.part", "chat.model_call", 30),
        ("chat.model_call", "chat.model_call", 30),
        ("chat.model_calls", "chat", 90),  # a prefix on dotted boundaries only
        ("chat.turn.succeeded", "chat", 90),
        ("auth.login.failed", "auth", 400),
        ("authz.granted", "*", 400),
        ("ui.tab.viewed", "*", 400),
    ],
)
def test_the_most_specific_family_wins(event_type: str, family: str, days: int) -> None:
    """A type's family is its longest family prefix on dots; no family: the default."""
    assert POLICY.family_of(event_type) == family
    assert POLICY.days_for(event_type) == days


def test_partition_expiry_is_the_longest_retention_or_forever() -> None:
    """The outer bound is the longest of all; anything kept forever keeps partitions forever."""
    assert POLICY.partition_days == 400
    assert RetentionPolicy(30, {"auth": 400}).partition_days == 400
    assert RetentionPolicy(30, {}).partition_days == 30
    assert RetentionPolicy(None, {"chat.model_call": 30}).partition_days is None


def test_effective_retention_lists_every_family_with_dead_letters_last() -> None:
    """``*`` (the default) first, the families by name, dead letters (theirs or the default)."""
    assert POLICY.effective() == {
        "*": 400, "auth": 400, "chat": 90, "chat.model_call": 30, "dead_letters": 30
    }  # fmt: skip
    assert RetentionPolicy(7, {}).effective() == {"*": 7, "dead_letters": 7}


def test_each_family_s_delete_leaves_the_more_specific_families_and_the_default_leaves_all() -> (
    None
):
    """chat's delete excludes chat.model_call; the default's excludes every family."""
    deletes = {d.family: d for d in POLICY.deletions()}
    assert set(deletes) == {"auth", "chat", "chat.model_call", "*", "dead_letters"}
    assert deletes["chat"].condition == (
        "(event_type = 'chat' OR STARTS_WITH(event_type, 'chat.')) AND NOT "
        "((event_type = 'chat.model_call' OR STARTS_WITH(event_type, 'chat.model_call.')))"
    )
    assert deletes["*"].condition is not None
    assert deletes["*"].condition.startswith("NOT (")
    assert deletes["dead_letters"].table == "dead_letters"
    assert deletes["dead_letters"].condition is None
    assert RetentionPolicy(None, {}).deletions() == []


def test_cutoffs_follow_bigquery_s_partition_expiry() -> None:
    """With 3 days at 11-27 13:00 the first day kept is 11-25 (11-24 went at 11-27 00:00)."""
    assert cutoff(3, NOW) == datetime(2026, 11, 25, tzinfo=UTC)
    assert bigquery_cutoff_literal(3, NOW) == "TIMESTAMP('2026-11-25')"
    assert bigquery_cutoff_scheduled(3) == (
        "TIMESTAMP(DATE_SUB(CURRENT_DATE('UTC'), INTERVAL 2 DAY))"
    )


def test_the_report_window_is_the_shortest_retention() -> None:
    """The page is complete from the shortest family's first kept day, and says so."""
    window = RetentionWindow.of(POLICY, NOW)
    assert window == RetentionWindow(date(2026, 10, 29), "chat.model_call", 30)
    assert "may lack them" in window.note(Period(date(2026, 10, 1), date(2026, 11, 27)))
    assert "may lack" not in window.note(Period(date(2026, 11, 1), date(2026, 11, 27)))
    assert RetentionWindow.of(RetentionPolicy(None, {}), NOW) is None
