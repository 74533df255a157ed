"""Publishing rejects to the dead-letter topic, each line as its own message.

The message data is the rejected line (or message), byte for byte, so
``il-audit dlq replay`` can send it back unchanged; data over what Pub/Sub
accepts is cut and marked (``wire.cut_dead_letter_data``). Attributes: the
error attributes of the wire contract (``il_audit.schemas.wire``) plus as
many of the original message's as Pub/Sub's limits allow
(``wire.bounded_attributes``).

A publish that fails because of the letter itself (too large, attributes
Pub/Sub refuses) can never succeed: :func:`is_permanent` says which errors
those are. Such a letter is logged and counted and the message acknowledged
(its ``dead_letters`` row is written before this runs); every other failure
(a missing topic, a permission, the network) is transient, so nothing is
acknowledged and nothing lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from google.api_core import exceptions as core_exceptions
from google.cloud.pubsub_v1.publisher.exceptions import MessageTooLargeError

from il_audit.schemas.wire import (
    ATTR_APP,
    ATTR_COUNT,
    ATTR_ENCODING,
    ATTR_ERROR_CLASS,
    ATTR_ERROR_DETAIL,
    ATTR_EVENT_TYPE,
    ATTR_LINE_INDEX,
    ATTR_SOURCE_MESSAGE_ID,
    ENCODING_GZIP,
    GZIP_MAGIC,
    bounded_attributes,
    cut_attribute,
    cut_dead_letter_data,
)
from il_audit.subscriber_fn.core import MessageMeta, Reject
from il_audit.subscriber_fn.errors import DeadLetterPublishError

logger = logging.getLogger(__name__)

_PUBLISH_TIMEOUT_SECONDS: Final = 30.0
_MESSAGE_CAUSED: Final = ("attribute", "size", "too large", "too long", "exceeds")
"""Words of an InvalidArgument about the message itself (Pub/Sub's "The attribute ... has a
value that is too long", "Request payload size exceeds the limit"); "Invalid [topics] name"
and the like are configuration."""


def is_permanent(error: BaseException) -> bool:
    """Whether a failed dead-letter publish was caused by the letter itself.

    Only ``MessageTooLargeError`` (raised by the client when ``publish()`` is
    called) and an ``InvalidArgument`` about the size or the attributes are:
    publishing the same letter again cannot succeed. Everything else (a
    missing topic, a denied permission, an unreachable service, a timeout) is
    a matter of configuration or time, hence transient.
    """
    if isinstance(error, MessageTooLargeError):
        return True
    if isinstance(error, core_exceptions.InvalidArgument):
        text = str(error).lower()
        return any(word in text for word in _MESSAGE_CAUSED)
    return False


def dead_letter_attributes(
    reject: Reject, attributes: Mapping[str, str], meta: MessageMeta, data: bytes | None = None
) -> dict[str, str]:
    """Attributes of the dead-letter message for one reject (``data``: what is published).

    A line gets its own ``app`` / ``event_type`` (when readable) and a count of 1:
    the message-level values may not describe it. A whole message keeps the
    message's attributes, which describe it as it came.
    """
    own: dict[str, str] = {
        ATTR_ERROR_CLASS: reject.error_class.value,
        ATTR_ERROR_DETAIL: cut_attribute(reject.error_detail),
    }
    if meta.message_id:
        own[ATTR_SOURCE_MESSAGE_ID] = cut_attribute(meta.message_id)
    original = dict(attributes)
    original.pop(ATTR_ENCODING, None)  # set below from the data actually published
    if reject.line_index is not None:
        own[ATTR_LINE_INDEX] = str(reject.line_index)
        own[ATTR_COUNT] = "1"
        for key in (ATTR_APP, ATTR_EVENT_TYPE):
            original.pop(key, None)
    for key, value in ((ATTR_APP, reject.app), (ATTR_EVENT_TYPE, reject.event_type)):
        if value:
            own[key] = cut_attribute(value)
    published = reject.raw if data is None else data
    if published.startswith(GZIP_MAGIC):  # a whole message kept as it came
        own[ATTR_ENCODING] = ENCODING_GZIP
    return bounded_attributes(own, original)


class DeadLetterTopic:
    """Publishes rejects to ``projects/{project}/topics/{topic}`` and waits for the acks."""

    def __init__(self, project: str, topic: str, *, client: Any | None = None) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self._client = client if client is not None else pubsub_v1.PublisherClient()
        self.topic_path: str = self._client.topic_path(project, topic)

    def publish(
        self, rejects: Sequence[Reject], attributes: Mapping[str, str], meta: MessageMeta
    ) -> list[str | None]:
        """Publish every reject: its message id, or None where the letter itself cannot be.

        Raises :class:`DeadLetterPublishError` (transient) for any other failure.
        """
        futures: list[Any] = []
        for reject in rejects:
            data, cut = cut_dead_letter_data(reject.raw)
            letter_attributes = {**dead_letter_attributes(reject, attributes, meta, data), **cut}
            try:
                futures.append(self._client.publish(self.topic_path, data, **letter_attributes))
            except Exception as exc:  # noqa: BLE001 - classified; the rest is re-raised
                self._refused(exc, reject, meta)
                futures.append(None)
        results: list[str | None] = []
        for reject, future in zip(rejects, futures, strict=True):
            if future is None:
                results.append(None)
                continue
            try:
                results.append(str(future.result(timeout=_PUBLISH_TIMEOUT_SECONDS)))
            except Exception as exc:  # noqa: BLE001 - classified; the rest is re-raised
                self._refused(exc, reject, meta)
                results.append(None)
        return results

    def _refused(self, error: Exception, reject: Reject, meta: MessageMeta) -> None:
        """Log a letter Pub/Sub can never take; raise the transient error for anything else."""
        if not is_permanent(error):
            raise DeadLetterPublishError(f"cannot publish to {self.topic_path}: {error}") from error
        logger.error(
            "il-audit: dead letter of message %s line %s (%s, %d bytes) cannot be published to "
            "%s and is kept in dead_letters only: %s",
            meta.message_id,
            "-" if reject.line_index is None else reject.line_index,
            reject.error_class.value,
            len(reject.raw),
            self.topic_path,
            type(error).__name__,
        )
