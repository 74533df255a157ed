"""Seed path (0.1.3): ``build_envelope_row`` lives in :mod:`il_audit.publisher.seed_rows`."""

from il_audit.publisher.seed_rows import build_envelope_row

__all__ = ["build_envelope_row"]
