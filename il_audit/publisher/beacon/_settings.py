"""Beacon settings: one frozen object built from ``IL_BEACON_*`` variables over ``defaults.json``.

The names and defaults are the seed's 1.0 ones (8 requests per 10 s per key,
at most 5,000 keys, 8 KiB of metadata, 512-character strings, 50 events per
request) plus our own body limit, refusal budget, proxy hops and script caching. The client
address hash key (``IL_AUDIT_HASH_KEY``) is read here too.

A bad value never breaks the host app: it is logged once, as an error naming
the variable, the value and the default used instead, and the default applies.
That differs from :class:`~il_audit.config.AuditSettings` on purpose: a typo in
a rate limit must not take a web app's beacon endpoint (or the app) down.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from il_audit.config.settings import bundled_defaults
from il_audit.errors import SettingsError

logger = logging.getLogger(__name__)

HASH_KEY_VARIABLE = "IL_AUDIT_HASH_KEY"

# field name -> environment variable; the defaults.json key is "beacon_" + field name.
BEACON_ENV: Mapping[str, str] = {
    "window_seconds": "IL_BEACON_WINDOW_SECONDS",
    "max_requests_per_window": "IL_BEACON_MAX_REQUESTS_PER_WINDOW",
    "max_refusals_per_window": "IL_BEACON_MAX_REFUSALS_PER_WINDOW",
    "rate_limit_max_keys": "IL_BEACON_RATE_LIMIT_MAX_KEYS",
    "metadata_max_bytes": "IL_BEACON_METADATA_MAX_BYTES",
    "string_max_length": "IL_BEACON_STRING_MAX_LENGTH",
    "max_events_per_request": "IL_BEACON_MAX_EVENTS_PER_REQUEST",
    "max_body_bytes": "IL_BEACON_MAX_BODY_BYTES",
    "trusted_proxy_hops": "IL_BEACON_TRUSTED_PROXY_HOPS",
    "script_max_age_seconds": "IL_BEACON_SCRIPT_MAX_AGE_SECONDS",
}
DEFAULTS_PREFIX = "beacon_"


class BeaconSettings(BaseModel):
    """Limits and knobs of the beacon endpoint (immutable); see :func:`get_beacon_settings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_seconds: float = Field(
        gt=0, le=86_400, description="Rate-limit sliding window (IL_BEACON_WINDOW_SECONDS)."
    )
    max_requests_per_window: int = Field(
        ge=1,
        le=100_000,
        description="Requests one key may make per window (IL_BEACON_MAX_REQUESTS_PER_WINDOW).",
    )
    max_refusals_per_window: int = Field(
        ge=1,
        le=100_000,
        description="Refusals one client address may cause per window before it gets 429 "
        "without its body being read (IL_BEACON_MAX_REFUSALS_PER_WINDOW).",
    )
    rate_limit_max_keys: int = Field(
        ge=1,
        le=10_000_000,
        description="Keys remembered, oldest evicted (IL_BEACON_RATE_LIMIT_MAX_KEYS).",
    )
    metadata_max_bytes: int = Field(
        ge=2,
        le=1_048_576,
        description="Compact JSON bytes of an item's metadata (IL_BEACON_METADATA_MAX_BYTES).",
    )
    string_max_length: int = Field(
        ge=1,
        le=65_536,
        description="Characters per string field of an item (IL_BEACON_STRING_MAX_LENGTH).",
    )
    max_events_per_request: int = Field(
        ge=1, le=10_000, description="Items per request (IL_BEACON_MAX_EVENTS_PER_REQUEST)."
    )
    max_body_bytes: int = Field(
        ge=1024,
        le=67_108_864,
        description="Largest request body, enforced while reading (IL_BEACON_MAX_BODY_BYTES).",
    )
    trusted_proxy_hops: int = Field(
        ge=0,
        le=32,
        description="Proxies in front of the app whose X-Forwarded-For entries are trusted "
        "(IL_BEACON_TRUSTED_PROXY_HOPS); 0 ignores the header.",
    )
    script_max_age_seconds: int = Field(
        ge=0,
        le=31_536_000,
        description="max-age of the served script (IL_BEACON_SCRIPT_MAX_AGE_SECONDS).",
    )
    hash_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for client address hashes (IL_AUDIT_HASH_KEY); "
        "without it no address is stored.",
    )

    @classmethod
    def defaults(cls) -> BeaconSettings:
        """The bundled defaults alone, ignoring the environment."""
        return cls.model_validate(_bundled_values())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BeaconSettings:
        """Build from ``environ`` (default ``os.environ``) over the bundled defaults.

        Never raises for a bad variable: each one is logged and its default used.
        """
        env = os.environ if environ is None else environ
        base = _bundled_values()
        values = dict(base)
        for name, variable in BEACON_ENV.items():
            raw = env.get(variable, "").strip()
            if not raw:
                continue
            try:
                cls.model_validate({**base, name: raw})
            except ValidationError as exc:
                reason = exc.errors(include_url=False, include_input=False)[0]["msg"]
                logger.error(
                    "il-audit: %s=%r is not usable (%s); using the default %r",
                    variable,
                    raw,
                    reason,
                    base[name],
                )
                continue
            values[name] = raw
        key = env.get(HASH_KEY_VARIABLE, "")
        if key.strip():
            values["hash_key"] = key
        return cls.model_validate(values)


def _bundled_values() -> dict[str, Any]:
    defaults = bundled_defaults()
    missing = [name for name in BEACON_ENV if DEFAULTS_PREFIX + name not in defaults]
    if missing:
        raise SettingsError(
            "il_audit/config/defaults.json lacks "
            + ", ".join(DEFAULTS_PREFIX + name for name in missing)
        )
    return {name: defaults[DEFAULTS_PREFIX + name] for name in BEACON_ENV}


@functools.cache
def get_beacon_settings() -> BeaconSettings:
    """The process-wide beacon settings, built from the environment on first use."""
    return BeaconSettings.from_env()


def reset_beacon_settings_cache() -> None:
    """Forget cached beacon settings so the next call rereads the environment."""
    get_beacon_settings.cache_clear()
