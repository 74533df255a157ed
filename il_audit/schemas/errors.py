"""Errors of the schemas: an envelope, a message body or an event type name that is not valid.

Each is also a ``ValueError``, which is what callers (the subscriber's core,
hosts registering types and builders) caught before they joined the
:class:`~il_audit.errors.AuditError` tree.
"""

from __future__ import annotations

from il_audit.errors import AuditError


class SchemaError(AuditError):
    """Base class of the schemas' errors."""


class EnvelopeTooLargeError(SchemaError, ValueError):
    """A serialized envelope is over :data:`~il_audit.schemas.envelope.MAX_ENVELOPE_BYTES`."""


class MalformedBodyError(SchemaError, ValueError):
    """A body that starts like gzip but is not a complete gzip stream within the size limit."""


class InvalidEventTypeError(SchemaError, ValueError):
    """An event type name does not follow the lowercase dotted convention."""


class FeedbackError(SchemaError, ValueError):
    """A chat feedback verdict breaks a rule of ``chat.feedback`` (il_audit/schemas/feedback.py).

    ``args`` are the message (the rule, never the value) and the reason's short code
    (``turn_id``, ``name``, ``value_type``...), which ``feedback_refusals`` counts by.
    """


class UntaggedColumnError(SchemaError, KeyError):
    """A column nobody classified in the personal-data inventory
    (``il_audit/schemas/personal_data.py``)."""
