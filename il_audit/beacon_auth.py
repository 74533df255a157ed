"""``il_audit.beacon_auth`` (1.0.35's module path) is the same module object as
:mod:`il_audit.publisher.beacon.login_surface`: the login-surface rule, its
constants, ``referer_page_path``, ``request_page_path`` and
``enrich_beacon_events_with_path``.
"""

import sys

from il_audit.publisher.beacon import login_surface as _login_surface

sys.modules[__name__] = _login_surface
