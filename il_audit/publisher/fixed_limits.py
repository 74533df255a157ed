"""The publisher's fixed limits: named constants, not settings.

No variable changes them; ``docs/settings.md`` lists them beside the settings
(``il-audit schema settings`` reads :data:`FIXED_LIMITS`), with the values
their modules hold.
"""

from __future__ import annotations

from il_audit.config.reference import Constant
from il_audit.publisher._outbox import MAX_INFLIGHT_BYTES
from il_audit.publisher._spool_lane import STALL_SECONDS
from il_audit.publisher._transports.pubsub import PROJECT_LOOKUP_TIMEOUT_SECONDS

__all__ = ["FIXED_LIMITS"]

FIXED_LIMITS: tuple[Constant, ...] = (
    Constant(
        "STALL_SECONDS",
        STALL_SECONDS,
        "seconds",
        "il_audit.publisher._spool_lane",
        "A message unanswered this long makes a publisher with a spool degraded, and from "
        "then on packed messages go to the spool: a cut network shows as silence long before "
        "it shows as errors.",
    ),
    Constant(
        "PROJECT_LOOKUP_TIMEOUT_SECONDS",
        PROJECT_LOOKUP_TIMEOUT_SECONDS,
        "seconds",
        "il_audit.publisher._transports.pubsub",
        "Bound of one `google.auth.default()` project lookup on the publisher's thread when no "
        "project variable is set; a failed lookup is retried with the publish backoff.",
    ),
    Constant(
        "MAX_INFLIGHT_BYTES",
        MAX_INFLIGHT_BYTES,
        "bytes",
        "il_audit.publisher._outbox",
        "Bytes of packed messages (before gzip) published and not yet answered; past it the "
        "publisher encodes no more until answers come, and events wait in their smaller "
        "captured form (a degraded publisher spools instead).",
    ),
)
