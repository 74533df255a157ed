"""Beacon settings: the seed's names and defaults, and bad values that never break the host."""

from __future__ import annotations

import logging

import pytest

from il_audit.config.settings import bundled_defaults
from il_audit.publisher.beacon import BeaconSettings


def test_defaults_are_the_seeds() -> None:
    """The bundled defaults are the seed's 1.0 values plus our body limit, budget and hops."""
    settings = BeaconSettings.from_env({})
    assert settings.model_dump() == {
        "window_seconds": 10.0,
        "max_requests_per_window": 8,
        "max_refusals_per_window": 32,
        "rate_limit_max_keys": 5000,
        "metadata_max_bytes": 8192,
        "string_max_length": 512,
        "max_events_per_request": 50,
        "max_body_bytes": 1_048_576,
        "trusted_proxy_hops": 0,
        "script_max_age_seconds": 3600,
        "hash_key": None,
    }


def test_defaults_live_in_the_bundled_json() -> None:
    """Every beacon default comes from defaults.json (beacon_* keys)."""
    defaults = bundled_defaults()
    assert defaults["beacon_max_requests_per_window"] == 8
    assert defaults["beacon_max_body_bytes"] == 1_048_576


def test_environment_overrides_defaults() -> None:
    """IL_BEACON_* variables set the fields."""
    settings = BeaconSettings.from_env(
        {
            "IL_BEACON_WINDOW_SECONDS": "30",
            "IL_BEACON_MAX_REQUESTS_PER_WINDOW": "20",
            "IL_BEACON_TRUSTED_PROXY_HOPS": "1",
            "IL_BEACON_MAX_BODY_BYTES": "65536",
        }
    )
    assert (
        settings.window_seconds,
        settings.max_requests_per_window,
        settings.trusted_proxy_hops,
        settings.max_body_bytes,
    ) == (30.0, 20, 1, 65536)


def test_bad_value_logs_once_and_uses_the_default(caplog: pytest.LogCaptureFixture) -> None:
    """A bad value is one error naming the variable, the value and the default; nothing raises."""
    with caplog.at_level(logging.ERROR, logger="il_audit.publisher.beacon._settings"):
        settings = BeaconSettings.from_env(
            {"IL_BEACON_MAX_REQUESTS_PER_WINDOW": "many", "IL_BEACON_WINDOW_SECONDS": "15"}
        )
    assert settings.max_requests_per_window == 8
    assert settings.window_seconds == 15.0
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "IL_BEACON_MAX_REQUESTS_PER_WINDOW" in message
    assert "'many'" in message
    assert "default 8" in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IL_BEACON_WINDOW_SECONDS", "0"),
        ("IL_BEACON_RATE_LIMIT_MAX_KEYS", "-5"),
        ("IL_BEACON_MAX_BODY_BYTES", "10"),
        ("IL_BEACON_TRUSTED_PROXY_HOPS", "1.5"),
    ],
)
def test_out_of_range_values_fall_back(variable: str, value: str) -> None:
    """Values outside a field's range fall back to the default like unparsable ones."""
    assert BeaconSettings.from_env({variable: value}) == BeaconSettings.from_env({})


def test_hash_key_is_secret() -> None:
    """IL_AUDIT_HASH_KEY is read, and never shown by repr."""
    settings = BeaconSettings.from_env({"IL_AUDIT_HASH_KEY": "s3cret-key"})
    assert settings.hash_key is not None
    assert settings.hash_key.get_secret_value() == "s3cret-key"
    assert "s3cret" not in repr(settings)


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after building."""
    settings = BeaconSettings.from_env({})
    with pytest.raises(ValueError, match="frozen"):
        settings.window_seconds = 1  # type: ignore[misc]


def test_refusal_budget_comes_from_the_environment() -> None:
    """IL_BEACON_MAX_REFUSALS_PER_WINDOW sets the refusal budget; defaults.json gives 32."""
    assert bundled_defaults()["beacon_max_refusals_per_window"] == 32
    settings = BeaconSettings.from_env({"IL_BEACON_MAX_REFUSALS_PER_WINDOW": "100"})
    assert settings.max_refusals_per_window == 100
