"""Seed path (1.0.35): the request context lives in :mod:`il_audit.publisher.request_context`."""

from il_audit.publisher.request_context import (
    install_request_context_middleware,
    request_correlation_ids,
)

__all__ = ["install_request_context_middleware", "request_correlation_ids"]
