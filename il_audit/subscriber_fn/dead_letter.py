"""Publishing rejects to the dead-letter topic, each line as its own message.

The message data is the rejected line, byte for byte, so ``il-audit dlq
replay`` can send it back unchanged. Attributes: the original message's, plus
``il_audit_error_class``, ``il_audit_error_detail`` (cut to Pub/Sub's 1024-byte
limit), ``il_audit_line_index`` and ``il_audit_source_message_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from google.api_core import exceptions as core_exceptions

from il_audit.subscriber_fn.core import MessageMeta, Reject
from il_audit.subscriber_fn.errors import DeadLetterPublishError

ATTR_ERROR_CLASS: Final = "il_audit_error_class"
ATTR_ERROR_DETAIL: Final = "il_audit_error_detail"
ATTR_LINE_INDEX: Final = "il_audit_line_index"
ATTR_SOURCE_MESSAGE_ID: Final = "il_audit_source_message_id"
_MAX_ATTRIBUTE_BYTES: Final = 1024
_PUBLISH_TIMEOUT_SECONDS: Final = 30.0


def _cut(text: str, limit: int = _MAX_ATTRIBUTE_BYTES) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", "ignore") + "..."


def dead_letter_attributes(
    reject: Reject, attributes: Mapping[str, str], meta: MessageMeta
) -> dict[str, str]:
    """Attributes of the dead-letter message for one reject."""
    result = dict(attributes)
    result[ATTR_ERROR_CLASS] = reject.error_class.value
    result[ATTR_ERROR_DETAIL] = _cut(reject.error_detail)
    if reject.line_index is not None:
        result[ATTR_LINE_INDEX] = str(reject.line_index)
    if meta.message_id:
        result[ATTR_SOURCE_MESSAGE_ID] = meta.message_id
    result["il_audit_count"] = "1"
    for key, value in (("app", reject.app), ("event_type", reject.event_type)):
        if value:
            result[key] = _cut(value)
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
