"""Seed path (1.0.35): ``safe_call`` lives in :mod:`il_audit.chat`."""

from il_audit.chat import safe_call

__all__ = ["safe_call"]
