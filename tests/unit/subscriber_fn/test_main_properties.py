"""Property: whatever JSON arrives as CloudEvent data, ``handle_pubsub`` acks or asks for a retry.

Poison must be acknowledged (Pub/Sub push redelivers every non-2xx answer), so the
function may only return, or raise ``TransientError`` for an outage. Anything else
escaping would become a 500 and loop the message through redeliveries.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from il_audit.subscriber_fn import main, pipeline
from il_audit.subscriber_fn.errors import TransientError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
base64_text = st.binary(max_size=200).map(lambda raw: base64.b64encode(raw).decode())
messages = st.fixed_dictionaries(
    {},
    optional={
        "data": base64_text | json_values,
        "attributes": st.dictionaries(st.text(max_size=10), st.text(max_size=10)) | json_values,
        "messageId": st.text(max_size=12) | json_values,
        "publishTime": st.sampled_from(["2026-11-27T12:00:00Z", "yesterday"]) | json_values,
        "deliveryAttempt": st.integers(-5, 50) | json_values,
    },
)
event_data = (
    json_values
    | st.fixed_dictionaries({"message": messages}, optional={"subscription": json_values})
    | st.fixed_dictionaries({"message": json_values})
)


@pytest.fixture
def duckdb_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default pipeline writing a DuckDB file (set up once; hypothesis reuses it)."""
    monkeypatch.setenv("IL_AUDIT_SINK", "duckdb")
    monkeypatch.setenv("IL_AUDIT_DUCKDB_PATH", str(tmp_path / "fn.duckdb"))
    assert pipeline.default_pipeline().sink.name == "duckdb"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=event_data)
@pytest.mark.usefixtures("duckdb_pipeline")
def test_handle_pubsub_returns_or_raises_only_transient_errors(data: Any) -> None:
    """Arbitrary JSON as event data is acknowledged (return) or retried (TransientError)."""
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/p/topics/t",
        },
        data,
    )
    try:
        main.handle_pubsub(event)
    except TransientError:
        # Only an outage may ask for a retry, and the DuckDB file here is always writable.
        pytest.fail("a healthy pipeline asked for a retry")
