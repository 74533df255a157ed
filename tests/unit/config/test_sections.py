"""Settings in sections: one loader, flat names that read the sections, strictness by parameter."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from il_audit.config._environment import DEFAULT_KEYS, ENABLE_VARIABLES, ENV_BINDINGS
from il_audit.config._names import Flat, path_of, section_types, setting_paths
from il_audit.config.sections import SinkKind, SpoolSettings, Transport
from il_audit.config.settings import AuditSettings, bundled_defaults, get_audit_settings
from il_audit.errors import SettingsError
from il_audit.publisher.beacon import BeaconSettings, get_beacon_settings

SECTIONS = {"publisher", "pubsub", "subscriber", "warehouse", "spool", "privacy", "chat", "beacon"}


def _flat_names() -> dict[str, Flat[Any]]:
    return {name: value for name, value in vars(AuditSettings).items() if isinstance(value, Flat)}


def test_settings_come_in_the_named_sections() -> None:
    """AuditSettings holds one frozen section per component, and project at the top."""
    assert set(section_types(AuditSettings)) == SECTIONS
    settings = AuditSettings.from_env({"IL_AUDIT_SPOOL_DIR": "/var/spool/audit"})
    assert settings.spool == SpoolSettings(dir="/var/spool/audit", max_bytes=268_435_456)
    with pytest.raises(ValidationError, match="frozen"):
        settings.spool.dir = "/elsewhere"  # type: ignore[misc]


def test_every_flat_name_reads_its_section() -> None:
    """settings.spool_dir is settings.spool.dir, and so on for every flat name."""
    settings = AuditSettings.from_env(
        {"IL_AUDIT_SPOOL_DIR": "/s", "IL_AUDIT_TOPIC": "t-1", "IL_BQ_AUDIT_DATASET": "ds"}
    )
    for name, flat in _flat_names().items():
        section, field = path_of(AuditSettings, str(flat.setting))
        assert getattr(settings, name) == getattr(getattr(settings, section), field), name
    assert (settings.spool_dir, settings.topic, settings.bq_dataset) == ("/s", "t-1", "ds")


def test_every_flat_name_is_typed_as_its_field() -> None:
    """The type a flat name declares (for mypy) is the type of the field it reads."""
    hints = typing.get_type_hints(AuditSettings)
    sections = section_types(AuditSettings)
    for name, flat in _flat_names().items():
        (declared,) = typing.get_args(typing.get_args(hints[name])[0])
        section, field = path_of(AuditSettings, str(flat.setting))
        assert declared == sections[section].model_fields[field].annotation, name


def test_every_setting_has_its_variables_and_a_bundled_default() -> None:
    """ENV_BINDINGS and defaults.json name exactly the settings of the sections."""
    names = set(setting_paths(AuditSettings))
    assert set(ENV_BINDINGS) | {"enabled"} == names
    keys = {DEFAULT_KEYS.get(name, name) for name in names - {"project"}}
    assert keys == set(bundled_defaults())
    variables = [variable for group in ENV_BINDINGS.values() for variable in group]
    assert len(variables) == len(set(variables))
    assert not set(variables) & set(ENABLE_VARIABLES)


def test_model_validate_takes_flat_names_over_the_sections() -> None:
    """A dump with overrides by flat name is how tests and hosts build settings."""
    base = AuditSettings.from_env({})
    settings = AuditSettings.model_validate(
        {**base.model_dump(), "transport": "memory", "spool_dir": "/x", "topic": "other"}
    )
    assert (settings.transport, settings.spool.dir, settings.pubsub.topic) == (
        Transport.MEMORY,
        "/x",
        "other",
    )
    assert settings.publisher.write_queue_max_size == base.write_queue_max_size
    again = AuditSettings(**{**base.model_dump(), "sink": "duckdb"})
    assert again.warehouse.sink is SinkKind.DUCKDB


def test_unknown_names_are_refused() -> None:
    """A name that is no setting is an error, in construction and in lookups."""
    base = AuditSettings.from_env({}).model_dump()
    with pytest.raises(ValidationError, match="topik"):
        AuditSettings.model_validate({**base, "topik": "x"})
    with pytest.raises(KeyError, match="topik"):
        AuditSettings.from_env({}).value("topik")


def test_model_copy_takes_flat_names() -> None:
    """model_copy(update=...) by flat name changes that setting and nothing else."""
    base = AuditSettings.from_env({})
    copy = base.model_copy(update={"sink": SinkKind.DUCKDB, "project": "p", "spool_dir": "/d"})
    assert (copy.warehouse.sink, copy.project, copy.spool.dir) == (SinkKind.DUCKDB, "p", "/d")
    assert copy.warehouse.dataset == base.warehouse.dataset
    assert (base.sink, base.project, base.spool_dir) == (SinkKind.BIGQUERY, None, None)


def test_flat_names_are_read_only() -> None:
    """Assigning a flat name fails like assigning any field of frozen settings."""
    settings = AuditSettings.from_env({})
    with pytest.raises(ValidationError, match="frozen"):
        settings.spool_dir = "/x"  # type: ignore[misc]


def test_value_and_origin_take_names_and_paths(tmp_path: Path) -> None:
    """value() and origin() accept spool_dir and spool.dir alike."""
    settings = AuditSettings.from_env({"IL_AUDIT_SPOOL_DIR": str(tmp_path)})
    assert settings.value("spool_dir") == settings.value("spool.dir") == str(tmp_path)
    assert settings.origin("spool.dir") == "environment variable IL_AUDIT_SPOOL_DIR"
    assert settings.origin("beacon.window_seconds") == "defaults.json key 'beacon_window_seconds'"


def test_the_hash_key_is_read_once_for_chat_and_beacon() -> None:
    """IL_AUDIT_HASH_KEY lands in the privacy section; the beacon view shows the same key."""
    settings = AuditSettings.from_env({"IL_AUDIT_HASH_KEY": "k-1"})
    assert settings.privacy.hash_key is not None
    assert settings.hash_key == settings.privacy.hash_key
    assert BeaconSettings.of(settings).hash_key == settings.privacy.hash_key
    assert [name for name, group in ENV_BINDINGS.items() if "IL_AUDIT_HASH_KEY" in group] == [
        "hash_key"
    ]


def test_strictness_is_a_parameter_of_each_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """In one process a strict reader refuses what a lenient one logs and replaces."""
    monkeypatch.setenv("IL_AUDIT_MAX_LATENCY_MS", "slow")
    with pytest.raises(SettingsError, match="IL_AUDIT_MAX_LATENCY_MS='slow'"):
        get_audit_settings(strict=True)
    assert get_audit_settings(strict=False).max_latency_ms == 100
    assert get_audit_settings() is get_audit_settings(strict=False)
    assert caplog.text.count("IL_AUDIT_MAX_LATENCY_MS='slow'") == 1


def test_the_beacon_view_stays_lenient_under_strict_mode(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """IL_AUDIT_STRICT makes the app's settings refuse a bad IL_BEACON_* value; the router's
    view logs it and uses the default, so the endpoint (and the app) keeps working."""
    monkeypatch.setenv("IL_AUDIT_STRICT", "true")
    monkeypatch.setenv("IL_BEACON_MAX_REQUESTS_PER_WINDOW", "many")
    with pytest.raises(SettingsError, match="IL_BEACON_MAX_REQUESTS_PER_WINDOW='many'"):
        get_audit_settings()
    assert get_beacon_settings().max_requests_per_window == 8
    assert get_beacon_settings() is get_beacon_settings()
    assert "using the default 8" in caplog.text
