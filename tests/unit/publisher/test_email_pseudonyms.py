"""IL_AUDIT_PSEUDONYMIZE_EMAIL: the publisher sends ``actor_email_hmac``, never the e-mail.

Every encode path is exercised: a fresh context is encoded three times (first
sighting: the fast check; second: its head is built; third: the cached head),
an envelope keyword forces the fast line, ``full=True`` the pydantic path, and an
oversize event the stand-in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from il_audit.config.settings import AuditSettings
from il_audit.errors import SettingsError
from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport
from il_audit.publisher._encode import ContextDefaults, encode
from il_audit.publisher.privacy import default_key_id, email_pseudonym
from il_audit.schemas import taxonomy as T
from il_audit.subscriber_fn.core import MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.duck import read
from tests.support.factories import make_settings

KEY = "a-test-key-of-some-length"
EMAIL = "  Ann.Lee@Example.COM "
NOW_NS = 1_764_246_615_123_456_789


def expected(key_id: str) -> str:
    digest = hmac.new(KEY.encode(), b"ann.lee@example.com", hashlib.sha256).hexdigest()
    return f"{key_id}:{digest}"


def defaults(**overrides: Any) -> ContextDefaults:
    settings = make_settings(**{"pseudonymize_email": True, "hash_key": KEY, **overrides})
    return ContextDefaults.from_settings(settings)


def lines(defaults_: ContextDefaults, **fields: Any) -> list[dict[str, Any]]:
    """The envelope of one event by every path: three sightings of a fresh context, the
    fast line (an envelope keyword), and the full model."""
    context = AuditContext(app="chat", actor_uid="u-1", actor_email=EMAIL)
    found = []
    for index, full in enumerate((False, False, False, False, True)):
        keywords = {"status": "ok", **fields} if index == 3 else dict(fields)
        event_id = f"01934e1a-0000-7000-8000-00000000000{index}"
        encoded = encode((event_id, NOW_NS, T.AUTH_LOGOUT, context, keywords), defaults_, full=full)
        assert encoded.problem is None
        found.append(json.loads(encoded.line))
    return found


def test_pseudonym_is_the_keyed_hash_of_the_trimmed_lowercased_email() -> None:
    """email_pseudonym is '<key id>:' plus the HMAC-SHA-256 of the normalised e-mail."""
    assert email_pseudonym(EMAIL, KEY, "k2") == expected("k2")
    assert default_key_id(KEY) == "k" + hashlib.sha256(KEY.encode()).hexdigest()[:8]


def test_every_encode_path_sends_the_pseudonym_and_no_email() -> None:
    """Context e-mail, setting on: no path writes actor_email; each writes the same hmac."""
    for envelope in lines(defaults()):
        assert "actor_email" not in envelope
        assert envelope["actor_email_hmac"] == expected(default_key_id(KEY))
        assert envelope["actor_uid"] == "u-1"  # the join key stays in clear


def test_an_email_keyword_is_pseudonymised_and_the_key_id_setting_is_used() -> None:
    """An ``actor_email=`` keyword is replaced too, under IL_AUDIT_HASH_KEY_ID's id."""
    for envelope in lines(defaults(hash_key_id="2026-q4"), actor_email="ann.lee@example.com"):
        assert "actor_email" not in envelope
        assert envelope["actor_email_hmac"] == expected("2026-q4")
        assert EMAIL.strip().lower() not in json.dumps(envelope).lower()


def test_setting_off_keeps_the_email_as_given() -> None:
    """The default: actor_email as given, no actor_email_hmac, on every path."""
    for envelope in lines(ContextDefaults.from_settings(make_settings(hash_key=KEY))):
        assert envelope["actor_email"] == EMAIL
        assert "actor_email_hmac" not in envelope


def test_without_a_key_a_lenient_app_drops_the_email() -> None:
    """Pseudonyms asked for and no key (an app whose settings logged the error): neither."""
    for envelope in lines(defaults(hash_key=None)):
        assert "actor_email" not in envelope
        assert "actor_email_hmac" not in envelope


def test_a_stand_in_for_an_oversize_event_carries_the_pseudonym() -> None:
    """The stand-in keeps the context's fields: its e-mail is pseudonymised too."""
    context = AuditContext(app="chat", actor_email=EMAIL)
    captured = ("01934e1a-0000-7000-8000-000000000009", NOW_NS, T.AUTH_LOGOUT, context,
                {"blob": "x" * 2_000_000})  # fmt: skip
    encoded = encode(captured, defaults())
    envelope = json.loads(encoded.line)
    assert envelope["build_error"].startswith("envelope_too_large")
    assert "actor_email" not in envelope
    assert envelope["actor_email_hmac"] == expected(default_key_id(KEY))


def test_the_pseudonym_reaches_the_events_table(tmp_path: Path) -> None:
    """Through the publisher and the subscriber core into DuckDB: the column holds the
    pseudonym, actor_email is NULL, and events_deduped shows it."""
    transport = MemoryTransport(max_messages=None)
    publisher = AuditPublisher(
        make_settings(pseudonymize_email=True, hash_key=KEY), transport=transport
    )
    publisher.emit(T.AUTH_LOGOUT, context=AuditContext(app="chat", actor_email=EMAIL))
    assert publisher.flush(5).complete
    publisher.shutdown(1)
    body = b"\n".join(json.dumps(e).encode() for e in transport.envelopes())
    result = process_message(body, MessageMeta("m-1"), seed_catalog(), datetime.now(UTC))
    sink = DuckDBSink(tmp_path / "audit.duckdb", hold_seconds=0)
    assert sink.write_events(result.rows) == {}
    sink.close()
    query = "SELECT actor_email, actor_email_hmac FROM events_deduped"
    rows = read(tmp_path / "audit.duckdb", query)
    assert rows == [(None, expected(default_key_id(KEY)))]


def test_strict_settings_refuse_pseudonyms_without_a_key() -> None:
    """The CLI, the subscriber and strict mode get one error naming both variables."""
    with pytest.raises(SettingsError, match=r"IL_AUDIT_PSEUDONYMIZE_EMAIL.*IL_AUDIT_HASH_KEY"):
        AuditSettings.from_env({"IL_AUDIT_PSEUDONYMIZE_EMAIL": "true"})


def test_lenient_settings_log_the_error_and_keep_pseudonyms_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An app logs the error and keeps the setting (so no e-mail is sent in clear)."""
    with caplog.at_level(logging.ERROR):
        settings = AuditSettings.from_env({"IL_AUDIT_PSEUDONYMIZE_EMAIL": "yes"}, lenient=True)
    assert settings.pseudonymize_email is True
    assert "set IL_AUDIT_HASH_KEY" in caplog.text
    assert "never one in clear" in caplog.text


def test_a_key_id_with_a_colon_is_refused() -> None:
    """The key id is the pseudonym's prefix: ':' (its separator) is not allowed."""
    with pytest.raises(SettingsError, match="IL_AUDIT_HASH_KEY_ID"):
        AuditSettings.from_env({"IL_AUDIT_HASH_KEY_ID": "k:1"})


def test_the_beacon_router_s_actor_is_pseudonymised(monkeypatch: pytest.MonkeyPatch) -> None:
    """The beacon router's actor (get_context's e-mail) arrives as its pseudonym only."""
    from il_audit.publisher.testing import capture_events, reset
    from tests.support.beacon import LOGIN_HEADER, beacon_client, item, require_test_login

    monkeypatch.setenv("IL_AUDIT_PSEUDONYMIZE_EMAIL", "true")
    monkeypatch.setenv("IL_AUDIT_HASH_KEY", KEY)
    reset()
    client = beacon_client(require_auth=require_test_login)
    with capture_events() as events:
        client.post(
            "/api/audit/beacon",
            json={"events": [item()]},
            headers={"X-Test-User": "u-7", LOGIN_HEADER: "ok"},
        )
    digest = hmac.new(KEY.encode(), b"u-7@example.com", hashlib.sha256).hexdigest()
    assert [(e.actor_uid, e.actor_email, e.actor_email_hmac) for e in events] == [
        ("u-7", None, f"{default_key_id(KEY)}:{digest}")
    ]
