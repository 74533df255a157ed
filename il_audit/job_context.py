"""Seed path (1.0.35): job contexts live in :mod:`il_audit.publisher.job_context`."""

from il_audit.publisher.job_context import (
    JobAuditBinding,
    bind_job_audit_context,
    clear_job_audit_context,
    get_job_audit_binding,
    job_audit_context,
    reset_job_audit_context_for_tests,
)

__all__ = [
    "JobAuditBinding",
    "bind_job_audit_context",
    "clear_job_audit_context",
    "get_job_audit_binding",
    "job_audit_context",
    "reset_job_audit_context_for_tests",
]
