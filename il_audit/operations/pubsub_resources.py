"""Topics and subscriptions, created or corrected idempotently (``infra apply``, the local stack).

The layout's names come from the wire contract (:class:`~il_audit.schemas.wire.PubSubLayout`):
the events topic, the dead-letter topic, ``TOPIC-sub`` feeding the function
with dead-letter and retry policies (push to an endpoint, or pull), and
``DLQ-inspect``, a pull subscription with a short ack deadline for ``il-audit dlq``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as core_exceptions

from il_audit.config.settings import AuditSettings, bundled_defaults
from il_audit.operations.plan import Change, FieldChange
from il_audit.schemas.wire import PubSubLayout

DEFAULT_TIMEOUT = 30.0
"""Seconds each Pub/Sub request may take, its retries included."""

PULL = "none (pull)"


def pubsub_address() -> str:
    """Where the Pub/Sub client goes: the emulator the standard switch names, or Google's."""
    return os.environ.get("PUBSUB_EMULATOR_HOST") or "pubsub.googleapis.com"


INSPECT_ACK_DEADLINE_SECONDS = 10
"""Short: the dlq tools extend their leases right after pulling, and anything a crashed
run had pulled should come back quickly."""

TOPIC_MESSAGE_RETENTION_SECONDS = 7 * 86_400
"""How long the events topic keeps messages, acknowledged or not (Terraform's
``topic_message_retention_seconds``): what ``il-audit subscriber seek`` can redeliver."""


@dataclass(frozen=True)
class SubscriptionPolicy:
    """Delivery settings of the subscription that feeds the function.

    The defaults are ``defaults.json``'s (``subscription_*`` keys), the same
    values the Terraform module's variables default to.
    """

    max_delivery_attempts: int = field(default_factory=lambda: _default("max_delivery_attempts"))
    min_backoff_seconds: int = field(default_factory=lambda: _default("min_backoff_seconds"))
    max_backoff_seconds: int = field(default_factory=lambda: _default("max_backoff_seconds"))
    ack_deadline_seconds: int = field(default_factory=lambda: _default("ack_deadline_seconds"))
    push_endpoint: str | None = None

    @classmethod
    def from_settings(cls, settings: AuditSettings, **overrides: Any) -> SubscriptionPolicy:
        """The policy the settings describe (``IL_AUDIT_SUBSCRIPTION_*``), with ``overrides``."""
        values: dict[str, Any] = {
            "max_delivery_attempts": settings.subscription_max_delivery_attempts,
            "min_backoff_seconds": settings.subscription_min_backoff_seconds,
            "max_backoff_seconds": settings.subscription_max_backoff_seconds,
            "ack_deadline_seconds": settings.subscription_ack_deadline_seconds,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


def _default(name: str) -> int:
    return int(bundled_defaults()[f"subscription_{name}"])


def _seconds(duration: Any) -> int:
    if duration is None:
        return 0
    if hasattr(duration, "total_seconds"):
        return int(duration.total_seconds())
    return int(getattr(duration, "seconds", 0))


class PubSubProvisioner:
    """Reads and writes topics and subscriptions."""

    def __init__(
        self,
        project: str,
        publisher: Any = None,
        subscriber: Any = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        from google.api_core import retry as retries
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self.project = project
        self.publisher = publisher or pubsub_v1.PublisherClient()
        self.subscriber = subscriber or pubsub_v1.SubscriberClient()
        self.timeout = timeout
        # Every request: at most ``timeout`` seconds, retries of an unavailable service included.
        self.deadline: dict[str, Any] = {
            "timeout": timeout,
            "retry": retries.Retry(
                predicate=retries.if_exception_type(core_exceptions.ServiceUnavailable),
                timeout=timeout,
            ),
        }

    def topic(self, topic_id: str, apply: bool, *, retention_seconds: int = 0) -> Change:
        """Ensure a topic exists, keeping messages at least ``retention_seconds`` (0: any).

        A longer retention an operator set is left alone.
        """
        from google.protobuf import duration_pb2, field_mask_pb2

        path = self.publisher.topic_path(self.project, topic_id)
        desired: dict[str, Any] = {"name": path}
        if retention_seconds:
            desired["message_retention_duration"] = duration_pb2.Duration(seconds=retention_seconds)
        try:
            current = self.publisher.get_topic(topic=path, **self.deadline)
        except core_exceptions.NotFound:
            if apply:
                self.publisher.create_topic(request=desired, **self.deadline)
            return Change("topic", path, "create")
        if _seconds(current.message_retention_duration) >= retention_seconds:
            return Change("topic", path, "unchanged")
        if apply:
            self.publisher.update_topic(
                request={
                    "topic": desired,
                    "update_mask": field_mask_pb2.FieldMask(paths=["message_retention_duration"]),
                },
                **self.deadline,
            )
        before = _seconds(current.message_retention_duration)
        retention = FieldChange(
            "message_retention_duration",
            f"{before}s" if before else "none",
            f"{retention_seconds}s",
        )
        return Change("topic", path, "update", fields=(retention,))

    def subscription(
        self,
        subscription_id: str,
        topic_id: str,
        apply: bool,
        *,
        dead_letter_topic_id: str | None = None,
        policy: SubscriptionPolicy | None = None,
        ack_deadline_seconds: int | None = None,
    ) -> Change:
        """Ensure a subscription exists with the given delivery policy.

        Without a policy (a plain pull subscription) only ``ack_deadline_seconds``
        is set, at creation.
        """
        from google.protobuf import duration_pb2, field_mask_pb2

        path = self.subscriber.subscription_path(self.project, subscription_id)
        topic_path = self.publisher.topic_path(self.project, topic_id)
        desired: dict[str, Any] = {"name": path, "topic": topic_path}
        if ack_deadline_seconds is not None:
            desired["ack_deadline_seconds"] = ack_deadline_seconds
        if policy is not None:
            desired["ack_deadline_seconds"] = policy.ack_deadline_seconds
            desired["retry_policy"] = {
                "minimum_backoff": duration_pb2.Duration(seconds=policy.min_backoff_seconds),
                "maximum_backoff": duration_pb2.Duration(seconds=policy.max_backoff_seconds),
            }
            desired["push_config"] = (
                {"push_endpoint": policy.push_endpoint} if policy.push_endpoint else {}
            )
            if dead_letter_topic_id:
                desired["dead_letter_policy"] = {
                    "dead_letter_topic": self.publisher.topic_path(
                        self.project, dead_letter_topic_id
                    ),
                    "max_delivery_attempts": policy.max_delivery_attempts,
                }
        try:
            current = self.subscriber.get_subscription(subscription=path, **self.deadline)
        except core_exceptions.NotFound:
            if apply:
                self.subscriber.create_subscription(request=desired, **self.deadline)
            return Change("subscription", path, "create", _describe_policy(policy))
        if policy is None:
            return Change("subscription", path, "unchanged")
        differences = _subscription_differences(current, desired, policy)
        if not differences:
            return Change("subscription", path, "unchanged")
        if apply:
            self.subscriber.update_subscription(
                request={
                    "subscription": desired,
                    "update_mask": field_mask_pb2.FieldMask(paths=sorted(differences)),
                },
                **self.deadline,
            )
        return Change(
            "subscription",
            path,
            "update",
            fields=tuple(differences[key] for key in sorted(differences)),
            delivery_change=_delivery_change(path, differences.get("push_config")),
        )

    def push_endpoint(self, subscription_id: str) -> str | None:
        """Where the subscription pushes to; None for a pull subscription."""
        path = self.subscriber.subscription_path(self.project, subscription_id)
        current = self.subscriber.get_subscription(subscription=path, **self.deadline)
        return str(current.push_config.push_endpoint) or None

    def close(self) -> None:
        """Close the subscriber's channel."""
        self.subscriber.close()


def _describe_policy(policy: SubscriptionPolicy | None) -> str:
    if policy is None:
        return "pull"
    delivery = f"push to {policy.push_endpoint}" if policy.push_endpoint else "pull"
    return (
        f"{delivery}, dead-letter after {policy.max_delivery_attempts} attempts, retry "
        f"{policy.min_backoff_seconds}-{policy.max_backoff_seconds}s"
    )


def _delivery_change(path: str, push: FieldChange | None) -> str:
    """What a push endpoint change does to delivery, in words; empty when there is none."""
    if push is None:
        return ""
    if push.after == PULL:
        return f"{path} stops pushing to {push.before} (becomes pull)"
    if push.before == PULL:
        return f"{path} starts pushing to {push.after} (its pull workers get nothing)"
    return f"{path} moves its push from {push.before} to {push.after}"


def _retry_text(minimum: int, maximum: int) -> str:
    return f"{minimum}-{maximum} s"


def _dead_letter_text(topic: str, attempts: int) -> str:
    return f"{topic} after {attempts} attempts" if topic else "none"


def _subscription_differences(
    current: Any, desired: dict[str, Any], policy: SubscriptionPolicy
) -> dict[str, FieldChange]:
    """Update-mask path -> the field's value before and after."""
    differences: dict[str, FieldChange] = {}
    if current.ack_deadline_seconds != policy.ack_deadline_seconds:
        differences["ack_deadline_seconds"] = FieldChange(
            "ack_deadline", f"{current.ack_deadline_seconds} s", f"{policy.ack_deadline_seconds} s"
        )
    retry = current.retry_policy
    have = (_seconds(retry.minimum_backoff), _seconds(retry.maximum_backoff))
    want = (policy.min_backoff_seconds, policy.max_backoff_seconds)
    if have != want:
        differences["retry_policy"] = FieldChange(
            "retry_backoff", _retry_text(*have), _retry_text(*want)
        )
    endpoint = current.push_config.push_endpoint or None
    if endpoint != policy.push_endpoint:
        differences["push_config"] = FieldChange(
            "push_endpoint", endpoint or PULL, policy.push_endpoint or PULL
        )
    wanted = desired.get("dead_letter_policy")
    if wanted is not None:
        dead_letter = current.dead_letter_policy
        before = (dead_letter.dead_letter_topic, dead_letter.max_delivery_attempts)
        after = (wanted["dead_letter_topic"], wanted["max_delivery_attempts"])
        if before != after:
            differences["dead_letter_policy"] = FieldChange(
                "dead_letter", _dead_letter_text(*before), _dead_letter_text(*after)
            )
    return differences


def provision_layout(
    layout: PubSubLayout,
    policy: SubscriptionPolicy,
    *,
    apply: bool = True,
    provisioner: PubSubProvisioner | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Change]:
    """Ensure both topics, the function's subscription and the inspection subscription."""
    owned = provisioner is None
    provisioner = provisioner or PubSubProvisioner(layout.project, timeout=timeout)
    try:
        return [
            provisioner.topic(
                layout.topic, apply, retention_seconds=TOPIC_MESSAGE_RETENTION_SECONDS
            ),
            provisioner.topic(layout.dlq_topic, apply),
            provisioner.subscription(
                layout.subscription,
                layout.topic,
                apply,
                dead_letter_topic_id=layout.dlq_topic,
                policy=policy,
            ),
            provisioner.subscription(
                layout.dlq_subscription,
                layout.dlq_topic,
                apply,
                ack_deadline_seconds=INSPECT_ACK_DEADLINE_SECONDS,
            ),
        ]
    finally:
        if owned:
            provisioner.close()
