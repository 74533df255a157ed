"""Errors of the publisher: what ``on_error`` receives and what strict mode raises."""

from __future__ import annotations

from il_audit.errors import AuditError


class PublisherError(AuditError):
    """Base class of publisher errors."""


class InvalidEventError(PublisherError, ValueError):
    """An event failed validation; it is still published so the subscriber dead-letters it.

    The message names fields and rules, never field values (they may hold PII).
    """

    def __init__(self, problem: str, *, event_id: str, event_type: str | None) -> None:
        super().__init__(f"invalid audit event {event_type!r} ({event_id}): {problem}")
        self.problem = problem
        self.event_id = event_id
        self.event_type = event_type


class QueueFullError(PublisherError):
    """Strict mode only: the bounded queue was full, so the event was not accepted."""


class PublishFailedError(PublisherError):
    """A message was refused permanently (e.g. the topic does not exist); its events are lost."""

    def __init__(self, count: int, cause: BaseException) -> None:
        super().__init__(f"{count} audit event(s) could not be published: {cause}")
        self.count = count
        self.cause = cause


class TransportUnavailableError(PublisherError):
    """The transport could not be created (no project, no credentials); events wait queued."""
