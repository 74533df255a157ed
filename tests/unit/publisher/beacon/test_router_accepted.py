"""The accepted path: what each item becomes, with the page, the agent and the hashed address."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from il_audit.beacon_router import create_beacon_router
from il_audit.publisher import AuditContext
from il_audit.publisher.middleware import AuditContextMiddleware
from il_audit.publisher.testing import capture_events
from il_audit.schemas import Envelope
from il_audit.schemas import taxonomy as T
from tests.support.beacon import actor_from_header, beacon_client, beacon_settings, item


def _one(body: dict[str, Any], headers: dict[str, str] | None = None, **options: Any) -> Envelope:
    client = beacon_client(**options)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json=body, headers=headers or {})
    assert response.status_code == 200, response.text
    assert len(events) == 1
    return events[0]


def test_accepted_items_are_counted_in_the_seed_shape() -> None:
    """The answer is {"status": "ok", "accepted": N}, one event per item."""
    client = beacon_client()
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": [item(), item(), item()]})
    assert response.json() == {"status": "ok", "accepted": 3}
    assert len(events) == 3


def test_item_becomes_a_beacon_envelope() -> None:
    """Top-level fields where the envelope has them, the UI fields in payload, source beacon."""
    envelope = _one(
        {
            "events": [
                item(
                    event_type="ui.chat.new_chat.clicked",
                    surface="chat_panel",
                    element_id="new-chat",
                    interaction="click",
                    resource_type="button",
                    duration_ms=120,
                    result_count=4,
                    metadata={"variant": "b"},
                    client_ts="2026-12-01T10:00:00.000Z",
                )
            ]
        },
        headers={"X-Test-User": "u-1"},
    )
    assert envelope.model_dump(
        include={"event_type", "app", "module", "source", "actor_uid", "action", "status",
                 "resource_type", "resource_id", "metadata"}
    ) == {
        "event_type": "ui.chat.new_chat.clicked",
        "app": "web",
        "module": "ui",
        "source": "beacon",
        "actor_uid": "u-1",
        "action": "click",
        "status": "succeeded",
        "resource_type": "button",
        "resource_id": "new-chat",
        "metadata": {"variant": "b", "client_ts": "2026-12-01T10:00:00.000Z"},
    }  # fmt: skip
    assert envelope.payload is not None
    assert {key: envelope.payload[key] for key in (
        "surface", "element_id", "interaction", "duration_ms", "result_count")} == {
        "surface": "chat_panel",
        "element_id": "new-chat",
        "interaction": "click",
        "duration_ms": 120,
        "result_count": 4,
    }  # fmt: skip


def test_page_path_comes_from_the_audit_path_header() -> None:
    """X-IL-Audit-Path gives the page path, without its query string."""
    envelope = _one(
        {"events": [item()]},
        headers={"X-IL-Audit-Path": "/library?q=secret", "Referer": "http://testserver/other"},
    )
    assert envelope.payload is not None
    assert envelope.payload["page_path"] == "/library"


def test_page_path_falls_back_to_the_referer_path() -> None:
    """Without the header (sendBeacon), the Referer's path is used; query and fragment dropped."""
    envelope = _one(
        {"events": [item()]},
        headers={"Referer": "https://testserver/files/a%20b?token=abc#frag"},
    )
    assert envelope.payload is not None
    assert envelope.payload["page_path"] == "/files/a%20b"
    assert "token" not in str(envelope.model_dump())


def test_item_path_wins_over_the_headers() -> None:
    """An item's own path (single-page apps) is kept, query stripped."""
    envelope = _one(
        {"events": [item(path="/chat/42?draft=1")]}, headers={"Referer": "http://testserver/"}
    )
    assert envelope.payload is not None
    assert envelope.payload["page_path"] == "/chat/42"


def test_user_agent_is_recorded() -> None:
    """The User-Agent header lands in payload.user_agent."""
    envelope = _one({"events": [item()]}, headers={"User-Agent": "Mozilla/5.0 Test"})
    assert envelope.payload is not None
    assert envelope.payload["user_agent"] == "Mozilla/5.0 Test"


def test_no_client_address_without_a_hash_key() -> None:
    """Without IL_AUDIT_HASH_KEY nothing about the client address is stored."""
    envelope = _one({"events": [item()]}, headers={"User-Agent": "UA"})
    dumped = envelope.model_dump_json()
    assert "client_address_hash" not in dumped
    assert "testclient" not in dumped  # TestClient's peer address


def test_client_address_is_stored_as_a_keyed_hash() -> None:
    """With a hash key, payload.client_address_hash is HMAC-SHA256(key, address)."""
    envelope = _one({"events": [item()]}, settings=beacon_settings(hash_key="k" * 32))
    expected = hmac.new(b"k" * 32, b"testclient", hashlib.sha256).hexdigest()
    assert envelope.payload is not None
    assert envelope.payload["client_address_hash"] == expected


def test_hash_key_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_HASH_KEY set in the environment turns the keyed hash on."""
    monkeypatch.setenv("IL_AUDIT_HASH_KEY", "from-env-key")
    envelope = _one({"events": [item()]})
    expected = hmac.new(b"from-env-key", b"testclient", hashlib.sha256).hexdigest()
    assert envelope.payload is not None
    assert envelope.payload["client_address_hash"] == expected


def test_browser_session_id_becomes_the_session_id() -> None:
    """The script's sessionStorage id (body session_id) lands in the envelope's session_id."""
    envelope = _one({"events": [item()], "session_id": "0b6f3c1e-tab"})
    assert envelope.session_id == "0b6f3c1e-tab"


def test_empty_batch_is_ok_and_emits_nothing() -> None:
    """An empty batch answers accepted 0."""
    client = beacon_client()
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": []})
    assert response.json() == {"status": "ok", "accepted": 0}
    assert list(events) == []


def test_host_beacon_type_is_accepted_once_registered() -> None:
    """A host type registered with register_beacon_types passes; before that it is refused."""
    client = beacon_client()
    body = {"events": [item(event_type="ui.billing.invoice.opened")]}
    assert client.post("/api/audit/beacon", json=body).status_code == 422
    T.register_beacon_types("ui.billing.*")
    with capture_events() as events:
        assert client.post("/api/audit/beacon", json=body).status_code == 200
    assert events.event_types == ["ui.billing.invoice.opened"]


def test_known_but_not_beacon_type_is_refused() -> None:
    """A type registered only with register() stays server-side: browsers may not send it."""
    T.register("ui.admin.exported")
    client = beacon_client()
    response = client.post(
        "/api/audit/beacon", json={"events": [item(event_type="ui.admin.exported")]}
    )
    assert response.status_code == 422


def test_on_events_scheduled_sees_the_context_and_items() -> None:
    """The hook runs after emitting, with the beacon context and the accepted items."""
    calls: list[tuple[AuditContext, list[dict[str, Any]]]] = []
    client = beacon_client(
        on_events_scheduled=lambda context, items: calls.append((context, items))
    )
    with capture_events():
        client.post("/api/audit/beacon", json={"events": [item(element_id="e1")]})
    context, items = calls[0]
    assert context.source == "beacon"
    assert context.app == "web"
    assert items[0]["element_id"] == "e1"


def test_failing_on_events_scheduled_does_not_fail_the_request() -> None:
    """An exception in the hook is logged; the answer is still ok."""

    def hook(_context: AuditContext, _items: list[dict[str, Any]]) -> None:
        raise RuntimeError("host bug")

    client = beacon_client(on_events_scheduled=hook)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": [item()]})
    assert response.json() == {"status": "ok", "accepted": 1}
    assert len(events) == 1


def test_request_and_trace_ids_come_from_the_middleware() -> None:
    """Mounted behind AuditContextMiddleware, beacons carry the request's ids."""
    app = FastAPI()
    app.add_middleware(AuditContextMiddleware, app_name="web")
    app.include_router(
        create_beacon_router(app_name="web", get_context=actor_from_header, allow_anonymous=True)
    )
    trace = "0af7651916cd43dd8448eb211c80319c"
    with capture_events() as events:
        TestClient(app).post(
            "/api/audit/beacon",
            json={"events": [item()]},
            headers={"X-Request-ID": "req-9", "traceparent": f"00-{trace}-b7ad6b7169203331-01"},
        )
    assert (events[0].request_id, events[0].trace_id) == ("req-9", trace)


def test_async_get_context_is_awaited() -> None:
    """get_context may be async."""

    async def get_context(_request: Request) -> AuditContext:
        return AuditContext(actor_uid="async-user")

    envelope = _one({"events": [item()]}, get_context=get_context)
    assert envelope.actor_uid == "async-user"
