"""Seed path (1.0.35): the audit JSON helpers live in :mod:`il_audit.publisher.audit_json`."""

from il_audit.publisher.audit_json import audit_json_default, dumps_audit_json

__all__ = ["audit_json_default", "dumps_audit_json"]
