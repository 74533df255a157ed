"""``il-audit dlq purge --actor-uid`` on the Pub/Sub emulator: one person's letters go,
nobody else's are lost."""

from __future__ import annotations

import gzip
import json
from typing import Any

from click.testing import CliRunner
from google.cloud import pubsub_v1

from il_audit.cli import cli
from il_audit.schemas.wire import ATTR_COUNT, ATTR_ENCODING, ATTR_ERROR_CLASS
from tests.support.factories import envelope_line
from tests.support.pubsub import PROJECT, create_topic_with_subscription, pull_messages

PERSON = "user-purge"
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"


def test_purge_by_person_acks_theirs_and_republishes_shared_letters_redacted(
    pubsub_emulator_host: str,  # noqa: ARG001 - exports PUBSUB_EMULATOR_HOST
) -> None:
    """Their own letter is acknowledged; a letter shared with someone else comes back
    without their line and with the same attributes; another person's letter stays."""
    dlq = create_topic_with_subscription("dlq")
    mine = envelope_line(actor_uid=PERSON, event_type="no.such.type")
    theirs = envelope_line(actor_uid="someone-else", actor_email="else@example.com")
    publisher = pubsub_v1.PublisherClient()
    futures = [
        publisher.publish(dlq.topic_path, mine, **{ATTR_ERROR_CLASS: "unknown_event_type"}),
        publisher.publish(
            dlq.topic_path,
            gzip.compress(mine + b"\n" + theirs),
            **{SOURCE_SUBSCRIPTION: "events-sub", ATTR_COUNT: "2", ATTR_ENCODING: "gzip"},
        ),
        publisher.publish(dlq.topic_path, theirs, **{ATTR_ERROR_CLASS: "schema_violation"}),
    ]
    for future in futures:
        future.result(timeout=10)
    publisher.stop()

    def purge(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(
            cli,
            [
                "dlq", "purge", "--actor-uid", PERSON, "--format", "json", *args,
                "--subscription", dlq.subscription_path, "--pull-timeout", "0.5",
            ],
            env={"GOOGLE_CLOUD_PROJECT": PROJECT, "IL_AUDIT_DLQ_TOPIC": dlq.topic_id},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    counted = purge("--dry-run")  # acknowledges nothing: the real run finds the same
    assert (counted["purged"], counted["redacted"], counted["dry_run"]) == (1, 1, True)
    report = purge("--yes")
    assert (report["purged"], report["redacted"], report["lines_removed"]) == (1, 1, 2)

    left = pull_messages(dlq.subscription_path, expect_events=2, timeout=20)
    assert [message.body for message in left] == [theirs, theirs]
    redacted = next(m.attributes for m in left if SOURCE_SUBSCRIPTION in m.attributes)
    assert redacted == {SOURCE_SUBSCRIPTION: "events-sub", ATTR_COUNT: "1"}
    assert PERSON.encode() not in b"".join(message.data for message in left)
