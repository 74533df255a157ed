"""Settings shared by every part of il-audit (environment first, bundled JSON second)."""

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
    "CostRatesSource",
    "SinkKind",
    "Transport",
    "bundled_defaults",
    "get_audit_settings",
    "reset_audit_settings_cache",
]
