"""Seed path (0.1.3, with 1.0.35's additions): the row helpers live in
:mod:`il_audit.publisher.seed_rows`, ``question_sha256`` in :mod:`il_audit.publisher.privacy`."""

from il_audit.publisher.privacy import question_sha256
from il_audit.publisher.seed_rows import (
    actor_fields,
    build_envelope,
    build_envelope_row,
    utc_now_iso,
)

__all__ = ["actor_fields", "build_envelope", "build_envelope_row", "question_sha256", "utc_now_iso"]
