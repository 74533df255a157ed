"""Errors of the beacon endpoint: a bad construction raises; a refused request is answered."""

from __future__ import annotations

from typing import Any

from il_audit.errors import AuditError
from il_audit.publisher.errors import PublisherError


class BeaconConfigError(PublisherError, ValueError):
    """``create_beacon_router`` was given options that would make an unsafe or broken endpoint."""


class Refusal(AuditError):
    """Stops a request with a fixed answer (never built from the request's content)."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
