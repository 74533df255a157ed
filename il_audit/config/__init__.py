"""Settings shared by every part of il-audit (environment first, bundled JSON second).

:class:`AuditSettings` holds one frozen section per component; ``docs/settings.md``
lists every setting, its variables, default, range and reader.
"""

from il_audit.config.sections import (
    BeaconLimits,
    ChatSettings,
    PrivacySettings,
    PublisherSettings,
    PubSubSettings,
    SpoolSettings,
    SubscriberSettings,
    WarehouseSettings,
)
from il_audit.config.settings import (
    AuditSettings,
    CostRatesSource,
    SinkKind,
    Transport,
    bundled_defaults,
    get_audit_settings,
    reset_audit_settings_cache,
)

__all__ = [
    "AuditSettings",
    "BeaconLimits",
    "ChatSettings",
    "CostRatesSource",
    "PrivacySettings",
    "PubSubSettings",
    "PublisherSettings",
    "SinkKind",
    "SpoolSettings",
    "SubscriberSettings",
    "Transport",
    "WarehouseSettings",
    "bundled_defaults",
    "get_audit_settings",
    "reset_audit_settings_cache",
]
