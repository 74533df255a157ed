"""Errors of the beacon endpoint's construction (requests are answered, never raised)."""

from __future__ import annotations

from il_audit.publisher.errors import PublisherError


class BeaconConfigError(PublisherError, ValueError):
    """``create_beacon_router`` was given options that would make an unsafe or broken endpoint."""
