"""Browser beacons: the request models, the settings and :func:`schedule_beacon_rows`.

The FastAPI router lives in :mod:`il_audit.publisher.beacon.router` (and, by
its seed path, :mod:`il_audit.beacon_router`); it is not imported here, so this
package works without the ``[beacon]`` extra.

Internals, one job each: ``_models`` (request bodies, the bounded metadata
walk), ``_origin`` (cross-site check), ``_limits`` (content type, sizes, the
refusal budget), ``_parsing`` (body to batch), ``_keying`` (authentication,
actor and rate-limit key), ``_hooks`` (calling the host's hooks),
``_ratelimit`` (sliding window), ``_client_address`` (proxies, normalised
addresses and the keyed hash), ``_page`` (page path, redaction, user agent),
``_mapping`` (item to event), ``_script`` (the served script), ``_settings``
(``IL_BEACON_*``), ``_errors``. Public modules besides the router:
``login_surface`` (1.0.35's login-surface rule, also ``il_audit.beacon_auth``)
and ``handlers`` (visit and conversation beacons into their events).
"""

from il_audit.publisher.beacon._mapping import schedule_beacon_rows
from il_audit.publisher.beacon._models import BeaconEventItem, BeaconRequest
from il_audit.publisher.beacon._settings import (
    BeaconSettings,
    get_beacon_settings,
    reset_beacon_settings_cache,
)
from il_audit.publisher.beacon.errors import BeaconConfigError

__all__ = [
    "BeaconConfigError",
    "BeaconEventItem",
    "BeaconRequest",
    "BeaconSettings",
    "get_beacon_settings",
    "reset_beacon_settings_cache",
    "schedule_beacon_rows",
]
