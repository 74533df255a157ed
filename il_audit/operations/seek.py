"""Seeking a subscription back to a time: redelivery after a bad subscriber deploy.

A subscriber that acknowledged events it then lost (a broken sink, a bad
release) can have them again: Pub/Sub redelivers every message published
after the time that the topic still keeps (its ``message_retention_duration``,
set by Terraform) or the subscription keeps (``retain_acked_messages``).
Pub/Sub cannot say how many messages a seek will redeliver, so the plan
reports what decides it: the subscription, the time and the retention. Events
carry an ``event_id`` and the subscriber deduplicates by it, so a redelivered
event already stored is not stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class SeekPlan:
    """What a seek to ``to`` would do, as far as Pub/Sub can tell."""

    subscription: str
    topic: str
    to: datetime
    topic_retention: timedelta
    """How long the topic keeps messages, acknowledged or not (0: not set)."""
    retains_acked: bool
    """Whether the subscription itself keeps acknowledged messages."""
    subscription_retention: timedelta
    """How long the subscription keeps messages (with ``retains_acked``: acknowledged ones too)."""

    @property
    def kept_since(self) -> datetime | None:
        """The oldest publish time still kept for a seek to reach (None: nothing acked is kept)."""
        kept = max(
            self.topic_retention,
            self.subscription_retention if self.retains_acked else timedelta(0),
        )
        return None if not kept else datetime.now(UTC) - kept

    def warnings(self) -> list[str]:
        """What makes the seek redeliver less than an operator may expect."""
        kept_since = self.kept_since
        if kept_since is None:
            return [
                f"topic {self.topic} keeps no acknowledged messages (no message retention): "
                "the seek redelivers only what is not acknowledged yet; give the topic a "
                "retention (`il-audit infra apply`, or Terraform's "
                "topic_message_retention_seconds) before the next incident"
            ]
        if self.to < kept_since:
            return [
                f"{_iso(self.to)} is older than the retention: only messages published after "
                f"{_iso(kept_since)} come back"
            ]
        return []

    def as_json(self) -> dict[str, Any]:
        """The plan with stable snake_case keys."""
        return {
            "subscription": self.subscription,
            "topic": self.topic,
            "to": _iso(self.to),
            "topic_message_retention_seconds": int(self.topic_retention.total_seconds()),
            "subscription_retains_acked_messages": self.retains_acked,
            "subscription_message_retention_seconds": int(
                self.subscription_retention.total_seconds()
            ),
            "redelivered_after": _iso(max(self.to, self.kept_since or self.to)),
            "warnings": self.warnings(),
        }


def plan_seek(subscriber: Any, publisher: Any, path: str, to: datetime, timeout: float) -> SeekPlan:
    """Read the subscription and its topic (each request within ``timeout`` seconds)."""
    subscription = subscriber.get_subscription(
        request={"subscription": path}, timeout=timeout, retry=None
    )
    topic_retention = timedelta(0)
    if subscription.topic.startswith("projects/"):  # "_deleted-topic_" once the topic is gone
        topic = publisher.get_topic(
            request={"topic": subscription.topic}, timeout=timeout, retry=None
        )
        topic_retention = _duration(topic.message_retention_duration)
    return SeekPlan(
        subscription=path,
        topic=subscription.topic,
        to=to,
        topic_retention=topic_retention,
        retains_acked=bool(subscription.retain_acked_messages),
        subscription_retention=_duration(subscription.message_retention_duration),
    )


def seek(subscriber: Any, plan: SeekPlan, timeout: float) -> None:
    """Seek the plan's subscription to its time (one request within ``timeout`` seconds)."""
    subscriber.seek(
        request={"subscription": plan.subscription, "time": plan.to}, timeout=timeout, retry=None
    )


def _duration(value: Any) -> timedelta:
    if value is None:
        return timedelta(0)
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=getattr(value, "seconds", 0))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
