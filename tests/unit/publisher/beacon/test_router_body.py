"""Bodies: size limit before parsing, JSON from text/plain, content types, 422 with reasons."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from il_audit.publisher.beacon import BeaconSettings
from il_audit.publisher.testing import capture_events
from tests.support.beacon import beacon_app, beacon_client, beacon_settings, item


def test_declared_body_over_the_limit_is_413() -> None:
    """A body over IL_BEACON_MAX_BODY_BYTES is refused with 413."""
    client = beacon_client(settings=beacon_settings(max_body_bytes=2048))
    body = json.dumps({"events": [item(metadata={"pad": "x" * 3000})]})
    response = client.post(
        "/api/audit/beacon", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_default_body_limit_is_one_mebibyte() -> None:
    """The default limit is 1 MiB: a body just over it gets 413 (before parsing: it is not JSON)."""
    assert BeaconSettings.defaults().max_body_bytes == 1_048_576
    client = beacon_client()
    response = client.post("/api/audit/beacon", content=b"x" * (1_048_576 + 1))
    assert response.status_code == 413


def _run_streaming(
    limit: int, chunk: bytes, chunks: int | None, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> tuple[int, int]:
    """Drive the ASGI app with a body of ``chunks`` chunks (None: endless) and extra
    ``headers``; returns (status, chunks the app pulled)."""
    app = beacon_app(settings=beacon_settings(max_body_bytes=limit))
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        more = chunks is None or pulled < chunks
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/audit/beacon",
        "raw_path": b"/api/audit/beacon",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"text/plain"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, pulled


def test_endless_stream_is_cut_at_the_limit() -> None:
    """Without Content-Length the limit is counted while reading: an endless body stops at 413."""
    status, pulled = _run_streaming(limit=4096, chunk=b"x" * 1000, chunks=None)
    assert status == 413
    assert pulled == 5  # 5,000 bytes read: the first chunk past 4,096


def test_understated_content_length_does_not_help() -> None:
    """The limit is enforced on bytes read, whatever Content-Length claimed."""
    status, pulled = _run_streaming(
        limit=4096, chunk=b"x" * 1000, chunks=None, headers=((b"content-length", b"10"),)
    )
    assert (status, pulled) == (413, 5)


def test_chunked_body_over_the_limit_is_413() -> None:
    """A chunked upload (no Content-Length) over the limit gets 413 through the HTTP client."""
    client = beacon_client(settings=beacon_settings(max_body_bytes=2048))

    def body() -> Any:
        yield b'{"events": ['
        yield b" " * 4096
        yield b"]}"

    response = client.post("/api/audit/beacon", content=body())
    assert response.status_code == 413


def test_largest_ascii_body_the_item_limits_allow_is_accepted() -> None:
    """50 items with every field at its limit fit under the default body limit and pass."""
    limits = BeaconSettings.defaults()
    metadata = {"pad": "m" * (limits.metadata_max_bytes - len('{"pad":""}'))}
    full = {
        "event_type": "ui.element.clicked",
        "surface": "s" * limits.string_max_length,
        "element_id": "e" * limits.string_max_length,
        "interaction": "i" * 256,
        "resource_type": "r" * 256,
        "resource_id": "d" * limits.string_max_length,
        "path": "/" + "p" * (limits.string_max_length - 1),
        "client_ts": "t" * 64,
        "duration_ms": 2**63 - 1,
        "result_count": 2**63 - 1,
        "metadata": metadata,
    }
    body = json.dumps({"events": [full] * limits.max_events_per_request, "session_id": "s" * 128})
    assert len(body) < limits.max_body_bytes
    client = beacon_client()
    with capture_events() as events:
        response = client.post("/api/audit/beacon", content=body)
    assert response.json() == {"status": "ok", "accepted": 50}
    assert len(events) == 50


def test_send_beacon_text_plain_body_is_read_as_json() -> None:
    """navigator.sendBeacon with a string sends text/plain;charset=UTF-8: it is parsed as JSON."""
    client = beacon_client()
    with capture_events() as events:
        response = client.post(
            "/api/audit/beacon",
            content=json.dumps({"events": [item()]}),
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
    assert response.json() == {"status": "ok", "accepted": 1}
    assert events.event_types == ["ui.element.clicked"]


def test_form_content_type_is_refused_with_415() -> None:
    """Form posts (a simple cross-site request type) are not beacon bodies."""
    client = beacon_client()
    response = client.post(
        "/api/audit/beacon",
        content=json.dumps({"events": [item()]}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415


def test_invalid_json_is_422() -> None:
    """A body that is not JSON is refused with 422 and a json_invalid reason."""
    client = beacon_client()
    response = client.post("/api/audit/beacon", content=b"{events: [")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_each_invalid_item_gets_its_reason() -> None:
    """422 lists a reason per invalid item, with the item's index; valid ones are not emitted."""
    client = beacon_client()
    body = {
        "events": [
            item(),
            item(event_type="auth.login.succeeded"),
            item(duration_ms=-1),
            item(surface="s" * 513),
        ]
    }
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json=body)
    assert response.status_code == 422
    reasons = response.json()["detail"]
    assert [(reason["item"], reason["loc"][-1]) for reason in reasons] == [
        (1, "event_type"),
        (2, "duration_ms"),
        (3, "surface"),
    ]
    assert all(reason["msg"] for reason in reasons)
    assert list(events) == []


def test_reasons_never_echo_the_input() -> None:
    """A markup-laden invalid value is named by field and rule, never repeated back."""
    client = beacon_client()
    payload = "<script>alert(1)</script>"
    body = {
        "events": [
            item(surface=payload * 30),
            item(event_type=payload),
            {"metadata": payload},
            {payload: 1, "duration_ms": payload},
        ]
    }
    response = client.post("/api/audit/beacon", json=body)
    assert response.status_code == 422
    assert "<script" not in response.text
    assert "alert" not in response.text


def test_too_many_events_is_422() -> None:
    """More than IL_BEACON_MAX_EVENTS_PER_REQUEST (50) items are refused."""
    client = beacon_client()
    response = client.post("/api/audit/beacon", json={"events": [item()] * 51})
    assert response.status_code == 422
    assert "at most 50 events" in response.json()["detail"][0]["msg"]


def test_events_limit_follows_the_settings() -> None:
    """The item count limit is read from the router's settings."""
    client = beacon_client(settings=beacon_settings(max_events_per_request=2))
    response = client.post("/api/audit/beacon", json={"events": [item()] * 3})
    assert response.status_code == 422


def test_bad_content_length_is_400() -> None:
    """A Content-Length that is not a number is a bad request, not a server error."""
    status, _ = _run_streaming(
        limit=4096, chunk=b"{}", chunks=1, headers=((b"content-length", b"12abc"),)
    )
    assert status == 400


@pytest.mark.parametrize("declared", [b"\xb2", b"1\xb3", b"\xb9" * 3], ids=["2", "13", "111"])
def test_superscript_content_length_is_400(declared: bytes) -> None:
    """Superscript digits pass str.isdigit but are no Content-Length: 400, not a server error."""
    status, pulled = _run_streaming(
        limit=4096, chunk=b"{}", chunks=1, headers=((b"content-length", declared),)
    )
    assert (status, pulled) == (400, 0)


def test_content_length_of_thousands_of_digits_is_413() -> None:
    """A Content-Length longer than int() converts is over the limit: 413, not a server error."""
    status, pulled = _run_streaming(
        limit=4096, chunk=b"{}", chunks=1, headers=((b"content-length", b"9" * 5000),)
    )
    assert (status, pulled) == (413, 0)
