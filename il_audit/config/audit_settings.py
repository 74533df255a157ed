"""0.1.3's ``il_audit.config.audit_settings`` path: the settings object and its cache.

:class:`AuditSettings` answers 0.1.3's attribute names too (``bq_project``,
``bq_dataset``, ``bq_dataset_location``, ``enable_audit_logs``,
``flush_batch_size``, ``flush_interval_seconds``).
"""

from typing import Final

from il_audit.config.settings import AuditSettings, get_audit_settings, reset_audit_settings_cache

DEFAULT_BQ_DATASET_LOCATION: Final = "europe-west1"
"""0.1.3's constant; the bundled default of ``IL_BQ_AUDIT_DATASET_LOCATION``."""

__all__ = [
    "DEFAULT_BQ_DATASET_LOCATION",
    "AuditSettings",
    "get_audit_settings",
    "reset_audit_settings_cache",
]
