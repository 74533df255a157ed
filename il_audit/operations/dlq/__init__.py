"""Dead-letter operations: inspect, replay and purge a dead-letter subscription safely.

Two kinds of messages sit in the dead-letter topic:

- the subscriber's own rejects: one line each, with ``il_audit_error_class``,
  ``il_audit_error_detail``, ``il_audit_line_index`` and the original attributes;
- messages Pub/Sub dead-lettered after ``max_delivery_attempts`` failed
  deliveries (the whole original message, with ``CloudPubSubDeadLetterSource*``
  attributes), e.g. during a warehouse outage.

Safety rules, in order of importance:

1. A dead-letter message is acknowledged only after everything it carries was
   republished (replay) or written to the archive and flushed to disk
   (purge). Killed at any moment, a run leaves each message either still in
   the subscription (its lease expires and it comes back) or done.
2. Republishing keeps the data byte for byte (and so every ``event_id``); the
   warehouse dedupes on it (``insertId``, primary keys, the
   ``events_deduped`` view), so replaying twice never stores an event twice.
3. ``il_audit_replay_count`` travels with the message through the subscriber
   and back into the dead-letter topic; past a cap (default 3) replay refuses
   the message unless forced, which stops poison from looping.
4. Messages a run does not select are never acknowledged: they are released
   (negative ack) at the end of the run and stay for the next one.

The modules, one job each: ``_messages`` (a pulled message, the selector, the
archive record), ``_source`` (the ``Source`` protocol, the Pub/Sub
subscription, leases and pull-ahead), ``_inspect``, ``_replay`` (with
:func:`decide_replay`, the one place that decides what happens to a message),
``_republish`` (the topic replay publishes to), ``_purge`` and ``_erase`` (one person's
letters, for ``il-audit erase``: acknowledged, or republished without their lines).
"""

from __future__ import annotations

from il_audit.operations.dlq._erase import PersonPurgeReport, purge_person
from il_audit.operations.dlq._inspect import Group, inspect
from il_audit.operations.dlq._messages import (
    PUBSUB_DEAD_LETTERED,
    DeadLetter,
    Selector,
    read_archive,
)
from il_audit.operations.dlq._purge import PurgeReport, purge
from il_audit.operations.dlq._replay import (
    DEFAULT_REPLAY_CAP,
    ReplayAction,
    ReplayDecision,
    ReplayReport,
    ReplayRules,
    Revalidator,
    decide_replay,
    replay,
)
from il_audit.operations.dlq._republish import Republisher, resolve_topic
from il_audit.operations.dlq._source import PubSubSource, Source
from il_audit.operations.errors import DlqError

__all__ = [
    "DEFAULT_REPLAY_CAP",
    "PUBSUB_DEAD_LETTERED",
    "DeadLetter",
    "DlqError",
    "Group",
    "PersonPurgeReport",
    "PubSubSource",
    "PurgeReport",
    "ReplayAction",
    "ReplayDecision",
    "ReplayReport",
    "ReplayRules",
    "Republisher",
    "Revalidator",
    "Selector",
    "Source",
    "decide_replay",
    "inspect",
    "purge",
    "purge_person",
    "read_archive",
    "replay",
    "resolve_topic",
]
