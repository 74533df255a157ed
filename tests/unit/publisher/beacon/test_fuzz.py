"""Hypothesis fuzz of the endpoint: arbitrary bodies never get a 5xx, never echo, stay bounded."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from il_audit.publisher.testing import capture_events
from tests.support.beacon import beacon_app, beacon_settings

MARKER = "<xss-marker>"
ALLOWED_STATUSES = {200, 400, 403, 413, 415, 422}
CONTENT_TYPES = [
    None,
    "application/json",
    "text/plain;charset=UTF-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "image/png",
    "",
]

# Limits high enough that the fuzz never trips the rate limiter or the refusal budget.
_client = TestClient(
    beacon_app(
        settings=beacon_settings(max_requests_per_window=100_000, max_refusals_per_window=100_000)
    )
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner, max_size=6)
    ),
    max_leaves=40,
)
item_keys = st.sampled_from(
    ["event_type", "surface", "element_id", "interaction", "resource_type", "resource_id",
     "duration_ms", "result_count", "metadata", "client_ts", "path", MARKER]
)  # fmt: skip
event_types = st.sampled_from(["ui.tab.viewed", "ui.element.clicked", "auth.logout", MARKER, ""])
items = st.dictionaries(item_keys, json_values | event_types | st.just(MARKER), max_size=8)
shaped = st.builds(
    lambda events, extra: json.dumps({"events": events, **extra}, allow_nan=True),
    st.lists(items, max_size=60),
    st.dictionaries(st.sampled_from(["session_id", "x", MARKER]), json_values, max_size=2),
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _huge_array(count: int) -> str:
    return '{"events": [' + ",".join(["{}"] * count) + "]}"


special = st.sampled_from(
    [
        _nested(100_000),
        '{"events": ' + _nested(5_000) + "}",
        '{"events": [{"metadata": ' + '{"a":' * 3000 + "1" + "}" * 3000 + "}]}",
        _huge_array(200_000),
        '{"events": [' + ",".join(["1"] * 300_000) + "]}",
        '{"events": [{"metadata": {"x": NaN, "y": Infinity, "z": -Infinity}}]}',
        '{"events": [], "events": [{"event_type": "ui.tab.viewed"}]}',
        '{"events": [{"event_type": "ui.tab.viewed", "event_type": "auth.logout"}]}',
        '{"events": [{"surface": "\\ud800"}]}',
        "NaN",
        "",
        "null",
        '"' + MARKER + '"',
    ]
).map(str.encode)
raw = st.binary(max_size=2_000) | st.builds(
    lambda text, junk: text.encode() + junk, shaped, st.binary(max_size=8)
)
invalid_utf8 = st.builds(
    lambda text, cut: text.encode()[:cut] + b"\xff\xfe\xc3(" + text.encode()[cut:],
    shaped,
    st.integers(min_value=0, max_value=200),
)
bodies = shaped.map(str.encode) | special | raw | invalid_utf8


def _post(body: bytes, content_type: str | None) -> Any:
    headers = {} if content_type is None else {"Content-Type": content_type}
    with capture_events(strict=False):
        return _client.post("/api/audit/beacon", content=body, headers=headers)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES))
def test_arbitrary_bodies_never_get_a_server_error(body: bytes, content_type: str | None) -> None:
    """Whatever the body and content type, the answer is a 2xx or a 4xx without the input in it."""
    response = _post(body, content_type)
    assert response.status_code in ALLOWED_STATUSES, (response.status_code, response.text[:200])
    assert MARKER not in response.text


@pytest.mark.parametrize(
    "body",
    [
        _nested(500_000).encode(),
        _huge_array(250_000).encode(),
        ('{"events": [{"metadata": {"k": "' + "x" * 1_000_000 + '"}}]}').encode(),
        ("[" + "0," * 500_000 + "0]").encode(),
    ],
    ids=["deep-nesting", "huge-array", "huge-string", "huge-number-array"],
)
def test_memory_stays_bounded_for_one_mebibyte_bodies(body: bytes) -> None:
    """Near-limit hostile bodies are answered with a bounded peak of allocated memory."""
    body = body[:1_048_576]
    tracemalloc.start()
    try:
        response = _post(body, "application/json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code in ALLOWED_STATUSES
    assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
