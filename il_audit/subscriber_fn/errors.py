"""Errors of the subscriber. A :class:`TransientError` means "retry the whole message"."""

from __future__ import annotations

import re

from il_audit.errors import AuditError

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def redact_values(message: str) -> str:
    """A warehouse error message with quoted fragments (often the offending value) removed.

    Such messages end up in logs and in ``dead_letters.error_detail``, which must
    never carry event payloads.
    """
    return _QUOTED.sub("'<value>'", message)


class SubscriberError(AuditError):
    """Base class of subscriber errors."""


class TransientError(SubscriberError):
    """Retrying later may succeed (5xx, 429, timeouts, a locked file, the DLQ unreachable).

    The function lets it propagate so that Pub/Sub redelivers the message with
    backoff and, after ``max_delivery_attempts``, dead-letters it itself.
    Redelivery is safe: rows are keyed by ``event_id`` and dead letters by
    ``message_id:line_index``.
    """

    retryable = True  # read by il_audit.retrying.is_retryable


class SinkUnavailableError(TransientError):
    """The warehouse could not be reached or refused the request for now."""


class DeadLetterPublishError(TransientError):
    """Rejects could not be published to the dead-letter topic."""


class PullConfigError(SubscriberError):
    """The worker cannot run as configured (no project for a short subscription name)."""


class StorageWriteSchemaError(SubscriberError):
    """BigQuery refused an append as a whole for a reason no retry cures (schema mismatch)."""


class StorageTableMissingError(SinkUnavailableError):
    """The table of the stream does not exist (NOT_FOUND)."""


class RowEncodingError(SubscriberError, ValueError):
    """A row that cannot be encoded for its table (refused alone, with this message)."""


class CatalogError(AuditError, ValueError):
    """A rate is malformed or overlaps another one."""
