"""The seed's module path for the beacon router (needs the ``[beacon]`` extra).

``from il_audit.beacon_router import create_beacon_router`` keeps working; the
implementation lives in :mod:`il_audit.publisher.beacon`.
"""

from il_audit.publisher.beacon.router import create_beacon_router

__all__ = ["create_beacon_router"]
