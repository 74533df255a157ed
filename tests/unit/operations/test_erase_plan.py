"""Erasure without an engine: the subject, its keyed hash, and what happens to one row."""

from __future__ import annotations

import json

import pytest

from il_audit.operations.erase_plan import erased_value, row_changes
from il_audit.operations.erase_subject import (
    Subject,
    pseudonym,
    role_match_columns,
    subject_hash,
)
from il_audit.operations.errors import ErasureError
from il_audit.publisher.privacy import keyed_hash
from il_audit.schemas.personal_data import personal_data

ALIAS = pseudonym("01-erasure")


def test_subject_hash_is_the_keyed_hash_of_kind_and_value() -> None:
    """The record names the subject by HMAC("uid:" + uid) or HMAC("email:" + normalised)."""
    assert subject_hash(Subject.of(uid="u-1"), "k") == keyed_hash("uid:u-1", "k")
    email = Subject.of(email="  Ann@Example.COM ")
    assert subject_hash(email, "k") == keyed_hash("email:ann@example.com", "k")


def test_no_hash_key_refuses_with_the_fix() -> None:
    """Without IL_AUDIT_HASH_KEY there is no way to record the subject, so nothing runs."""
    with pytest.raises(ErasureError, match="set IL_AUDIT_HASH_KEY"):
        subject_hash(Subject.of(uid="u-1"), None)


def test_exactly_one_identifier_is_required() -> None:
    """Both or neither of uid and e-mail is a usage error."""
    with pytest.raises(ErasureError, match="exactly one"):
        Subject.of(uid="u", email="a@b.c")
    with pytest.raises(ErasureError, match="exactly one"):
        Subject.of()


def test_the_subject_never_shows_in_its_repr() -> None:
    """A subject that ends up in a traceback or a log line does not carry the identifier."""
    subject = Subject.of(email="ann@example.com")
    assert "ann" not in repr(subject)
    assert "ann" not in str(subject)


def test_role_columns_are_found_by_name_and_inventory_category() -> None:
    """uids in *_uid identifier columns, e-mails in *_email contact columns, by role."""
    columns = ["actor_uid", "actor_email", "reporter_uid", "reporter_email", "event_id"]
    assert role_match_columns("legacy_content_reports", columns, Subject.of(uid="u")) == {
        "actor_uid": "actor",
        "reporter_uid": "reporter",
    }
    assert role_match_columns("events", columns, Subject.of(email="a@b.c")) == {
        "actor_email": "actor",
        "reporter_email": "reporter",
    }


def test_actor_row_loses_every_personal_value_and_keeps_the_facts() -> None:
    """The actor's row: uid pseudonymised, e-mail and texts NULL, payload scrubbed, facts kept."""
    row = {
        "event_id": "e-1",
        "event_type": "chat.turn.succeeded",
        "cost_usd": "0.5",
        "actor_uid": "u-1",
        "actor_email": "u1@example.com",
        "user_agent": "Firefox",
        "payload": json.dumps({"question": "my salary?", "turn_index": 2}),
    }
    subject = Subject.of(uid="u-1")
    changes = row_changes("events", row, subject, {"actor_uid": "actor"}, ALIAS)
    assert changes == {
        "actor_uid": ALIAS,
        "actor_email": None,
        "user_agent": None,
        "payload": json.dumps({"turn_index": 2}),
    }


def test_another_role_loses_only_its_own_columns() -> None:
    """A reporter who is not the actor: the reporter's columns go, the actor's row stays."""
    row = {
        "actor_uid": "someone-else",
        "actor_email": "else@example.com",
        "reporter_uid": "u-1",
        "reporter_email": "u1@example.com",
        "reporter_team": "legal",
    }
    match = {"actor_uid": "actor", "reporter_uid": "reporter"}
    changes = row_changes("legacy_content_reports", row, Subject.of(uid="u-1"), match, ALIAS)
    assert changes == {"reporter_uid": None, "reporter_email": None, "reporter_team": None}


def test_an_erased_row_has_nothing_left_to_change() -> None:
    """Re-running on an erased row changes nothing: the pseudonym stays, NULL stays NULL."""
    row = {"actor_uid": pseudonym("older"), "actor_email": None, "payload": '{"turn_index": 1}'}
    assert row_changes("events", row, Subject.of(uid="u-1"), {}, ALIAS, whole_row=True) == {}


def test_json_text_that_is_not_json_is_removed() -> None:
    """A free-form column holding text that does not parse is removed, not kept."""
    tag = personal_data("legacy_user_profile_events", "settings_json")
    assert erased_value(tag, "not json at all", ALIAS) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"actor_uid":"u-1","event_type":"x.y"}', True),
        ('{"actor_uid":"u-2"}\n{"actor_uid":"u-1"}', True),  # a whole multi-line message
        ('{"actor_uid":"u-2","resource_id":"u-1"}', False),  # names them, not keyed to them
        ('{"actor_uid":"u-1","payload":{"quest', True),  # cut to fit: the quoted uid counts
        ('{"actor_uid":"u-10"}', False),
        (None, False),
    ],
)
def test_dead_letter_raw_lines_match_by_their_actor(raw: str | None, expected: bool) -> None:
    """A dead letter is the subject's when one of its lines has them as actor (or, cut,
    quotes their identifier)."""
    assert Subject.of(uid="u-1").matches_raw(raw) is expected
