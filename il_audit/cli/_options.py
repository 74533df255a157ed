"""Option defaults read from the settings, so no default is copied out of ``defaults.json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def from_settings(field: str) -> Callable[[], Any]:
    """A click ``default`` that reads ``field`` of the settings when the command runs.

    Read strictly, as every command reads them: a bad value is refused, not replaced.
    """

    def default() -> Any:
        from il_audit.config.settings import get_audit_settings

        return get_audit_settings(strict=True).value(field)

    default.__name__ = f"settings.{field}"
    return default
