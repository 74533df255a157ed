"""The Cloud Function entry point through functions-framework's own test client.

Requests come from tests/data: a raw push captured from the Pub/Sub emulator
and an Eventarc-style binary CloudEvent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from il_audit.subscriber_fn import main, pipeline
from il_audit.subscriber_fn.main import decode_event
from tests.support.duck import read

DATA = Path(__file__).resolve().parents[2] / "data"
MAIN = Path(main.__file__)


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A functions-framework test client serving handle_pubsub into a DuckDB file."""
    monkeypatch.setenv("IL_AUDIT_SINK", "duckdb")
    monkeypatch.setenv("IL_AUDIT_DUCKDB_PATH", str(tmp_path / "fn.duckdb"))
    pipeline.reset_default_pipeline()
    app = functions_framework.create_app(
        target="handle_pubsub", source=str(MAIN), signature_type="cloudevent"
    )
    yield app.test_client()
    pipeline.reset_default_pipeline()


def query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    return read(tmp_path / "fn.duckdb", sql)


def test_raw_push_from_the_emulator_is_stored(client: Any, tmp_path: Path) -> None:
    """The emulator's push body becomes a CloudEvent and both envelopes become rows."""
    request = recorded("pubsub_push_emulator.json")
    response = client.post("/", json=request["body"], headers=request["headers"])
    assert response.status_code == 200
    rows = query(tmp_path, "SELECT event_id, message_id, cost_usd FROM events ORDER BY event_id")
    assert [(row[0][-4:], row[1]) for row in rows] == [("a001", "1"), ("a002", "1")]
    assert str(rows[1][2]) == "0.000104000"


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
    sink.path = tmp_path / "elsewhere" / "missing" / "fn.duckdb"  # type: ignore[attr-defined]
    response = client.post("/", json=request["body"], headers=request["headers"])
    assert response.status_code == 500
    assert query(tmp_path, "SELECT count(*) FROM events") == [(0,)]


def test_decode_event_reads_data_attributes_and_delivery() -> None:
    """Base64 data, attributes, message id, publish time and delivery attempt are read."""
    body = recorded("eventarc_cloudevent_poison.json")["body"]
    data, attributes, meta = decode_event(body)
    assert data.split(b"\n")[1] == b"{not json"
    assert attributes["il_audit_count"] == "3"
    assert (meta.message_id, meta.delivery_attempt) == ("9876543210", 1)
    assert meta.publish_time is not None
    assert meta.publish_time.year == 2026


def test_data_that_is_not_base64_is_kept_for_dead_lettering() -> None:
    """Invalid base64 is kept as bytes; the core then rejects it with a reason."""
    data, _, _ = decode_event({"message": {"data": "%%%not-base64", "messageId": "x"}})
    assert data == b"%%%not-base64"
