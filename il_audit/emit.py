"""Seed path (0.1.3): the emit functions, ``question_sha256`` and ``schedule_beacon_rows``.

``from il_audit.emit import question_sha256`` keeps working; ``il_audit.emit``
itself stays the *function* (the package keeps it so, as 0.1.3's did).
"""

from il_audit.publisher import emit, emit_api_usage, emit_batch, emit_resource_usage
from il_audit.publisher.beacon import schedule_beacon_rows
from il_audit.publisher.privacy import question_sha256

__all__ = [
    "emit",
    "emit_api_usage",
    "emit_batch",
    "emit_resource_usage",
    "question_sha256",
    "schedule_beacon_rows",
]
