"""``il_audit.config.stores.audit_taxonomy_store`` (1.0.35's module path) is the same module
object as :mod:`il_audit.schemas.taxonomy`, as ``il_audit.taxonomy`` (0.1.3's) is: importing
it hands back that one, so ``from il_audit import taxonomy`` is this module too."""

import sys

from il_audit.schemas import taxonomy as _taxonomy

sys.modules[__name__] = _taxonomy
