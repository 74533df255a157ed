"""``il_audit.taxonomy`` (0.1.3's module path) is the same module object as
:mod:`il_audit.schemas.taxonomy`: importing this one hands back that one.

Constants, ``BEACON_EVENT_TYPES`` and the registry functions are therefore
the same objects under both names.
"""

import sys

from il_audit.schemas import taxonomy as _taxonomy

sys.modules[__name__] = _taxonomy
