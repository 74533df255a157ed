"""The Cloud Function entry point through functions-framework's own test client.

Requests come from tests/data: a raw push captured from the Pub/Sub emulator
and an Eventarc-style binary CloudEvent.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from il_audit.schemas.wire import compress_body
from il_audit.subscriber_fn import main, pipeline
from il_audit.subscriber_fn.main import decode_event
from tests.support.duck import read
from tests.support.factories import envelope_line, seed_token_cost

DATA = Path(__file__).resolve().parents[2] / "data"
MAIN = Path(main.__file__)


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A functions-framework test client serving handle_pubsub into a DuckDB file."""
    monkeypatch.setenv("IL_AUDIT_SINK", "duckdb")
    monkeypatch.setenv("IL_AUDIT_DUCKDB_PATH", str(tmp_path / "fn.duckdb"))
    app = functions_framework.create_app(
        target="handle_pubsub", source=str(MAIN), signature_type="cloudevent"
    )
    return app.test_client()


def query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    return read(tmp_path / "fn.duckdb", sql)


def test_raw_push_from_the_emulator_is_stored(client: Any, tmp_path: Path) -> None:
    """The emulator's push body becomes a CloudEvent and both envelopes become rows."""
    request = recorded("pubsub_push_emulator.json")
    response = client.post("/", json=request["body"], headers=request["headers"])
    assert response.status_code == 200
    rows = query(tmp_path, "SELECT event_id, message_id, cost_usd FROM events ORDER BY event_id")
    assert [(row[0][-4:], row[1]) for row in rows] == [("a001", "1"), ("a002", "1")]
    assert rows[1][2] == seed_token_cost("gemini-2.0-flash", 1000, 10)  # as recorded


def test_eventarc_cloudevent_with_poison_is_acked_and_dead_lettered(
    client: Any, tmp_path: Path
) -> None:
    """Poison is recorded in dead_letters and the request succeeds (no retry)."""
    request = recorded("eventarc_cloudevent_poison.json")
    response = client.post("/", data=json.dumps(request["body"]), headers=request["headers"])
    assert response.status_code == 200
    assert query(tmp_path, "SELECT count(*) FROM events") == [(1,)]
    dead = query(
        tmp_path, "SELECT line_index, error_class, delivery_attempt FROM dead_letters ORDER BY 1"
    )
    assert dead == [(1, "invalid_json", 1), (2, "undecodable", 1)]


def test_transient_failure_answers_an_error_for_pubsub_to_retry(
    client: Any, tmp_path: Path
) -> None:
    """A sink that cannot write makes the function fail, so Pub/Sub redelivers."""
    request = recorded("pubsub_push_emulator.json")
    sink = pipeline.default_pipeline().sink
    # The warehouse file becomes unreachable (its directory is gone).
    sink.close()
    sink.file.path = tmp_path / "elsewhere" / "missing" / "fn.duckdb"  # type: ignore[attr-defined]
    response = client.post("/", json=request["body"], headers=request["headers"])
    assert response.status_code == 500
    assert query(tmp_path, "SELECT count(*) FROM events") == [(0,)]


def test_decode_event_reads_data_attributes_and_delivery() -> None:
    """Base64 data, attributes, message id, publish time and delivery attempt are read."""
    body = recorded("eventarc_cloudevent_poison.json")["body"]
    pushed = decode_event(body)
    assert pushed.reject is None
    assert pushed.data.split(b"\n")[1] == b"{not json"
    assert pushed.attributes["il_audit_count"] == "3"
    assert (pushed.meta.message_id, pushed.meta.delivery_attempt) == ("9876543210", 1)
    assert pushed.meta.publish_time is not None
    assert pushed.meta.publish_time.year == 2026


def test_a_missing_message_id_falls_back_to_the_cloudevent_id() -> None:
    """Eventarc sets the CloudEvent id to the Pub/Sub message id; it stands in when absent."""
    pushed = decode_event({"message": {"data": "e30="}}, "ce-42")
    assert pushed.meta.message_id == "ce-42"


MALFORMED = [
    pytest.param([1, 2], "malformed_message", id="data-not-an-object"),
    pytest.param({"subscription": "s"}, "malformed_message", id="no-message"),
    pytest.param({"message": "text"}, "malformed_message", id="message-not-an-object"),
    pytest.param(
        {"message": {"data": "e30=", "attributes": ["a"]}},
        "malformed_attributes",
        id="attributes-a-list",
    ),
    pytest.param(
        {"message": {"data": "e30=", "attributes": {"a": 1}}},
        "malformed_attributes",
        id="attribute-not-a-string",
    ),
    pytest.param({"message": {"data": "%%%not-base64"}}, "malformed_data", id="not-base64"),
    pytest.param({"message": {"data": None, "messageId": "m"}}, "malformed_data", id="data-null"),
    pytest.param({"message": {"data": {"x": 1}}}, "malformed_data", id="data-an-object"),
]


@pytest.mark.parametrize(("event_data", "error_class"), MALFORMED)
def test_decode_event_classifies_every_malformed_shape(event_data: Any, error_class: str) -> None:
    """Each malformed shape becomes a whole-message reject with its own error class."""
    pushed = decode_event(event_data, "ce-1")
    assert pushed.reject is not None
    assert pushed.reject.error_class.value == error_class
    assert pushed.reject.raw  # kept, byte for byte where there were bytes
    assert pushed.reject.line_index is None


@pytest.mark.parametrize(("event_data", "error_class"), MALFORMED)
def test_malformed_messages_are_acknowledged_and_dead_lettered_once(
    client: Any, tmp_path: Path, event_data: Any, error_class: str
) -> None:
    """Poison of every shape gets a 2xx (no redelivery) and one dead_letters row."""
    headers = {
        "ce-id": "ce-77",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/p/topics/t",
        "Content-Type": "application/json",
    }
    for _ in range(2):  # a redelivery of the same message does not dead-letter it twice
        response = client.post("/", data=json.dumps(event_data), headers=headers)
        assert response.status_code == 200
    dead = query(tmp_path, "SELECT dead_letter_id, error_class FROM dead_letters")
    assert len(dead) == 1
    assert dead[0][1] == error_class
    assert query(tmp_path, "SELECT count(*) FROM events") == [(0,)]


def test_a_body_that_is_not_a_cloudevent_gets_a_client_error(client: Any) -> None:
    """A request Pub/Sub would never send is refused with 4xx, never 5xx, and not echoed."""
    for body in ("[1, 2, 3]", '{"hello": "<script>"}', '"just a string"'):
        response = client.post("/", data=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, body
        assert b"<script>" not in response.data


def push(data: bytes, message_id: str, **message: Any) -> dict[str, Any]:
    """A Pub/Sub message as the CloudEvent data Eventarc sends (deliveryAttempt kept)."""
    encoded = base64.b64encode(data).decode()
    return {"message": {"data": encoded, "messageId": message_id, **message}, "subscription": "s"}


def post(client: Any, body: dict[str, Any]) -> Any:
    """``body`` as a binary-mode CloudEvent (functions-framework passes its data through)."""
    headers = {
        "ce-id": body["message"]["messageId"],
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/p/topics/t",
        "Content-Type": "application/json",
    }
    return client.post("/", data=json.dumps(body), headers=headers)


@pytest.mark.parametrize("attempt", ["²", "9" * 5000, 10**7])
def test_an_odd_delivery_attempt_is_ignored_not_refused(
    client: Any, tmp_path: Path, attempt: Any
) -> None:
    """A delivery attempt that is no small count of ASCII digits is recorded as NULL; 2xx."""
    response = post(client, push(envelope_line(), "m-odd", deliveryAttempt=attempt))
    assert response.status_code == 200, response.data
    assert query(tmp_path, "SELECT message_id, delivery_attempt FROM events") == [("m-odd", None)]


def test_a_delivery_attempt_in_ascii_digits_is_recorded(client: Any, tmp_path: Path) -> None:
    """The usual value, as a string or a number, lands in delivery_attempt."""
    for index, attempt in enumerate(["3", 4]):
        body = push(envelope_line(), f"m-{index}", deliveryAttempt=attempt)
        assert post(client, body).status_code == 200
    rows = query(tmp_path, "SELECT delivery_attempt FROM events ORDER BY message_id")
    assert rows == [(3,), (4,)]


def test_every_member_of_a_multi_member_gzip_body_is_stored(client: Any, tmp_path: Path) -> None:
    """gzip(a\\n) + gzip(b): the events of both members become rows."""
    first, second = envelope_line(), envelope_line()
    data = compress_body(first + b"\n") + compress_body(second)
    assert post(client, push(data, "m-2")).status_code == 200
    stored = {row[0] for row in query(tmp_path, "SELECT event_id FROM events")}
    assert stored == {json.loads(first)["event_id"], json.loads(second)["event_id"]}


def test_trailing_bytes_after_gzip_are_dead_lettered_whole(client: Any, tmp_path: Path) -> None:
    """gzip(a) + garbage: nothing stored, the whole message dead-lettered with the reason."""
    data = compress_body(envelope_line()) + b"garbage"
    assert post(client, push(data, "m-3")).status_code == 200
    assert query(tmp_path, "SELECT count(*) FROM events") == [(0,)]
    dead = query(tmp_path, "SELECT dead_letter_id, error_class, error_detail FROM dead_letters")
    assert dead == [
        ("m-3:m", "malformed_data", "7 bytes after gzip member 1 are not another member")
    ]


def test_a_line_the_core_fails_on_is_dead_lettered_as_internal_error_and_acked(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while processing one line (a bug) is not transient: the line is
    dead-lettered as internal_error, its neighbours stored, and the push answered 200, so
    one bad line never makes its message loop (docs/operations.md says so)."""
    from il_audit.subscriber_fn import core

    real = core.price_usage

    def failing(usage, occurred_at, catalog):  # type: ignore[no-untyped-def]
        if usage:
            raise ZeroDivisionError("bug")
        return real(usage, occurred_at, catalog)

    monkeypatch.setattr(core, "price_usage", failing)
    usage = [{"service": "cloud_run", "model_id": "cpu_second", "quantity": 1}]
    lines = [envelope_line(), envelope_line(usage=usage), envelope_line()]
    assert post(client, push(b"\n".join(lines), "m-4")).status_code == 200
    assert query(tmp_path, "SELECT count(*) FROM events") == [(2,)]
    dead = query(tmp_path, "SELECT dead_letter_id, error_class, error_detail FROM dead_letters")
    assert dead == [("m-4:1", "internal_error", "the subscriber failed: ZeroDivisionError")]


def test_an_unexpected_error_outside_the_lines_is_transient_never_acked(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug around the per-line work (here the pipeline's handle itself) answers 500, so
    Pub/Sub redelivers and finally dead-letters the message: it is never acked unstored."""

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(pipeline.default_pipeline(), "handle", broken)
    assert post(client, push(envelope_line(), "m-5")).status_code == 500
    assert query(tmp_path, "SELECT count(*) FROM dead_letters") == [(0,)]
