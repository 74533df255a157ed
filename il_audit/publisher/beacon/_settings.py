"""Beacon settings: the beacon section of the process settings, plus the hash key.

The names and defaults are the seed's 1.0 ones (8 requests per 10 s per key,
at most 5,000 keys, 8 KiB of metadata, 512-character strings, 50 events per
request) plus our own body limit, refusal budget, proxy hops and script
caching; ``IL_BEACON_*`` variables set them. They are read by the one settings
loader (:class:`~il_audit.config.AuditSettings`, section ``beacon``), and the
client address hash key by its ``privacy`` section: :class:`BeaconSettings`
is a view of those two sections, which the router and the request models read.

A bad value never breaks the host app: the view is always read leniently (even
under ``IL_AUDIT_STRICT``), so a bad value is logged once, as an error naming
the variable, the value and the default used instead, and the default applies.
A typo in a rate limit must not take a web app's beacon endpoint (or the app)
down. (A strict reader of the whole settings, the CLI for one, refuses it.)
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, SecretStr

from il_audit.config.sections import BeaconLimits
from il_audit.config.settings import (
    ENV_BINDINGS,
    AuditSettings,
    get_audit_settings,
    reset_audit_settings_cache,
)

HASH_KEY_VARIABLE = ENV_BINDINGS["hash_key"][0]
BEACON_ENV: Mapping[str, str] = {
    field: ENV_BINDINGS[BeaconLimits.prefix + field][0] for field in BeaconLimits.model_fields
}
"""Field -> its ``IL_BEACON_*`` variable."""


class BeaconSettings(BeaconLimits):
    """Limits and knobs of the beacon endpoint (immutable); see :func:`get_beacon_settings`."""

    hash_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for client address hashes (IL_AUDIT_HASH_KEY); "
        "without it no address is stored.",
    )

    @classmethod
    def of(cls, settings: AuditSettings) -> BeaconSettings:
        """The beacon view of ``settings``: its beacon section and its hash key."""
        return cls.model_validate({**dict(settings.beacon), "hash_key": settings.privacy.hash_key})

    @classmethod
    def defaults(cls) -> BeaconSettings:
        """The bundled defaults alone, ignoring the environment."""
        return cls.of(AuditSettings.from_env({}))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BeaconSettings:
        """Build from ``environ`` (default ``os.environ``) over the bundled defaults.

        Never raises for a bad variable: each one is logged and its default used.
        """
        return cls.of(AuditSettings.from_env(environ, lenient=True))


_view: tuple[AuditSettings, BeaconSettings] | None = None


def get_beacon_settings() -> BeaconSettings:
    """The process-wide beacon settings: a view of the process settings, read leniently."""
    global _view
    settings = get_audit_settings(strict=False)
    view = _view
    if view is None or view[0] is not settings:
        view = _view = (settings, BeaconSettings.of(settings))
    return view[1]


def reset_beacon_settings_cache() -> None:
    """Forget the cached settings (the process-wide ones, which this is a view of)."""
    reset_audit_settings_cache()
