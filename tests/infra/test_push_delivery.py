"""What the Terraform deployment relies on in functions-framework, pinned.

infra/terraform deploys the function with an HTTP trigger and feeds it from its
own push subscription. These tests post the raw push bodies Pub/Sub sends to a
probe CloudEvent function served by ``functions_framework.create_app`` and
record what the function receives.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

PROBE = """
import json, os
import functions_framework

@functions_framework.cloud_event
def handle_pubsub(cloud_event):
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump({"attributes": {k: cloud_event[k] for k in ("type", "source")},
                   "data": cloud_event.data}, out)
"""


@pytest.fixture
def post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """POST a body to the probe (served as an HTTP-triggered function); returns
    (status, what the function received or None)."""
    import functions_framework

    source = tmp_path / "main.py"
    source.write_text(PROBE)
    out = tmp_path / "received.json"
    monkeypatch.setenv("PROBE_OUT", str(out))
    # What Cloud Functions sets for an HTTP trigger; the decorator must win over it.
    monkeypatch.setenv("FUNCTION_SIGNATURE_TYPE", "http")
    client = functions_framework.create_app("handle_pubsub", str(source), "http").test_client()

    def _post(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        response = client.post(path, json=body)
        received = json.loads(out.read_text()) if out.exists() else None
        return response.status_code, received

    return _post


def push_body(**message: Any) -> dict[str, Any]:
    """A Pub/Sub push request body (the default wrapper) with a dead-letter policy set."""
    return {
        "message": {
            "messageId": "123",
            "publishTime": "2026-12-01T10:00:00.000Z",
            "attributes": {"il_audit_schema": "1"},
            **message,
        },
        "subscription": "projects/p/subscriptions/il-audit-events-sub",
        "deliveryAttempt": 3,
    }


def test_a_raw_push_becomes_the_pubsub_cloudevent_with_the_topic_from_the_path(post: Any) -> None:
    """The push body becomes a messagePublished CloudEvent whose data is {"message": ...};
    the topic in the endpoint's path becomes its source, as Eventarc's would be."""
    data = base64.b64encode(b'{"event_id":"e-1"}').decode()
    status, received = post("/projects/p/topics/il-audit-events", push_body(data=data))
    assert status == 200
    assert received["attributes"] == {
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/p/topics/il-audit-events",
    }
    message = received["data"]["message"]
    assert (message["data"], message["messageId"], message["publishTime"]) == (
        data, "123", "2026-12-01T10:00:00.000Z"
    )  # fmt: skip
    assert message["attributes"] == {"il_audit_schema": "1"}


def test_the_conversion_drops_subscription_and_delivery_attempt(post: Any) -> None:
    """Unlike Eventarc's event, the converted one carries no subscription and no
    deliveryAttempt, so those row columns stay empty under Terraform's deployment."""
    status, received = post("/", push_body(data=base64.b64encode(b"x").decode()))
    assert status == 200
    assert set(received["data"]) == {"message"}
    assert "deliveryAttempt" not in received["data"]["message"]


def test_a_message_without_data_is_refused_so_pubsub_dead_letters_it(post: Any) -> None:
    """A push without a data field is not recognised as Pub/Sub: 400, never reaching the
    function; Pub/Sub retries it and dead-letters it after max_delivery_attempts."""
    status, received = post("/", push_body())
    assert status == 400
    assert received is None
