"""Publishing rejects to the dead-letter topic, each line as its own message.

The message data is the rejected line, byte for byte, so ``il-audit dlq
replay`` can send it back unchanged. Attributes: the original message's, plus
the error attributes of the wire contract (``il_audit.schemas.wire``), cut to
Pub/Sub's attribute limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from google.api_core import exceptions as core_exceptions

from il_audit.schemas.wire import (
    ATTR_APP,
    ATTR_COUNT,
    ATTR_ENCODING,
    ATTR_ERROR_CLASS,
    ATTR_ERROR_DETAIL,
    ATTR_EVENT_TYPE,
    ATTR_LINE_INDEX,
    ATTR_SOURCE_MESSAGE_ID,
    cut_attribute,
)
from il_audit.subscriber_fn.core import MessageMeta, Reject
from il_audit.subscriber_fn.errors import DeadLetterPublishError

_PUBLISH_TIMEOUT_SECONDS: Final = 30.0


def dead_letter_attributes(
    reject: Reject, attributes: Mapping[str, str], meta: MessageMeta
) -> dict[str, str]:
    """Attributes of the dead-letter message for one reject."""
    result = dict(attributes)
    result.pop(ATTR_ENCODING, None)  # the dead letter's data is the line itself, not gzip
    result[ATTR_ERROR_CLASS] = reject.error_class.value
    result[ATTR_ERROR_DETAIL] = cut_attribute(reject.error_detail)
    if reject.line_index is not None:
        result[ATTR_LINE_INDEX] = str(reject.line_index)
    if meta.message_id:
        result[ATTR_SOURCE_MESSAGE_ID] = meta.message_id
    result[ATTR_COUNT] = "1"
    for key, value in ((ATTR_APP, reject.app), (ATTR_EVENT_TYPE, reject.event_type)):
        if value:
            result[key] = cut_attribute(value)
        else:
            result.pop(key, None)  # the message-level value may not describe this line
    return result


class DeadLetterTopic:
    """Publishes rejects to ``projects/{project}/topics/{topic}`` and waits for the acks."""

    def __init__(self, project: str, topic: str, *, client: Any | None = None) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self._client = client if client is not None else pubsub_v1.PublisherClient()
        self.topic_path: str = self._client.topic_path(project, topic)

    def publish(
        self, rejects: Sequence[Reject], attributes: Mapping[str, str], meta: MessageMeta
    ) -> list[str]:
        """Publish every reject; raises :class:`DeadLetterPublishError` if any publish fails."""
        futures = [
            self._client.publish(
                self.topic_path, reject.raw, **dead_letter_attributes(reject, attributes, meta)
            )
            for reject in rejects
        ]
        try:
            return [str(future.result(timeout=_PUBLISH_TIMEOUT_SECONDS)) for future in futures]
        except (core_exceptions.GoogleAPICallError, TimeoutError, OSError) as exc:
            raise DeadLetterPublishError(f"cannot publish to {self.topic_path}: {exc}") from exc
