"""The seed's module path for the beacon request models."""

from il_audit.publisher.beacon import BeaconEventItem, BeaconRequest

__all__ = ["BeaconEventItem", "BeaconRequest"]
