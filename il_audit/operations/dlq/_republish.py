"""Where replay publishes: a Pub/Sub publisher bound to one topic, the events topic by default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from il_audit.operations.errors import DlqError

if TYPE_CHECKING:
    from il_audit.config.settings import AuditSettings


def resolve_topic(settings: AuditSettings, to_topic: str | None = None) -> str:
    """The full path of ``to_topic`` (an id in the settings' project, or a full path),
    by default the events topic."""
    if to_topic and "/" in to_topic:
        return to_topic
    topic = to_topic or settings.topic
    if not settings.project:
        raise DlqError(
            f"no project for topic {topic!r}: set GOOGLE_CLOUD_PROJECT (or give a full path)"
        )
    return f"projects/{settings.project}/topics/{topic}"


class Republisher:
    """``republisher(data, attributes)`` publishes to one topic and returns the publish future.

    Batches generously (1,000 messages or 20 ms): replay hands over whole batches
    and waits for their confirmations on another thread.
    """

    def __init__(self, topic: str, *, client: Any = None) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self.topic = topic
        self.client = client or pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=1000, max_latency=0.02)
        )

    @classmethod
    def from_settings(cls, settings: AuditSettings, to_topic: str | None = None) -> Republisher:
        """A republisher for ``to_topic`` (see :func:`resolve_topic`)."""
        return cls(resolve_topic(settings, to_topic))

    def __call__(self, data: bytes, attributes: dict[str, str]) -> Any:
        return self.client.publish(self.topic, data, **attributes)

    def close(self) -> None:
        """Send what is still batched, then stop the client."""
        self.client.stop()
