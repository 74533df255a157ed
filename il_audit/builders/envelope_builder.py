"""0.1.3's path of ``build_envelope_row``, which now lives in ``il_audit.envelope``."""

from il_audit.envelope import build_envelope_row

__all__ = ["build_envelope_row"]
