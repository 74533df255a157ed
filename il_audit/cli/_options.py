"""Option defaults read from the settings, so no default is copied out of ``defaults.json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def from_settings(field: str) -> Callable[[], Any]:
    """A click ``default`` that reads ``field`` of the settings when the command runs.

    The group's callback has already made the settings refuse bad values by then.
    """

    def default() -> Any:
        from il_audit.config.settings import get_audit_settings

        return getattr(get_audit_settings(), field)

    default.__name__ = f"settings.{field}"
    return default


def shown_default(field: str) -> str:
    """What ``--help`` shows as the default of a :func:`from_settings` option: the bundled one."""
    from il_audit.config.settings import bundled_defaults

    return str(bundled_defaults()[field])
