"""Authentication: both hook arities, async hooks, and the anonymous (pre-login) types."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import HTTPException, Request

from il_audit.publisher.beacon import BeaconRequest
from il_audit.publisher.testing import capture_events
from tests.support.beacon import LOGIN_HEADER, beacon_client, item, require_test_login

LOGIN_TYPES = ["ui.tab.viewed", "ui.element.clicked"]


def _login_item(**fields: Any) -> dict[str, Any]:
    return item(event_type="ui.tab.viewed", surface="auth_login", element_id="login_page", **fields)


def test_one_argument_hook_gets_the_request() -> None:
    """A 0.1-style require_auth(request) is called with the request and may let it through."""
    seen: list[Any] = []

    def require_auth(request: Request) -> None:
        seen.append(request)

    client = beacon_client(require_auth=require_auth)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": [item()]})
    assert response.json() == {"status": "ok", "accepted": 1}
    assert len(seen) == 1
    assert isinstance(seen[0], Request)
    assert len(events) == 1


def test_one_argument_hook_refusal_is_the_answer() -> None:
    """An HTTPException from the hook is the response, and nothing is emitted."""

    def require_auth(_request: Request) -> None:
        raise HTTPException(status_code=401, detail="Log in first")

    client = beacon_client(require_auth=require_auth)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": [item()]})
    assert response.status_code == 401
    assert response.json() == {"detail": "Log in first"}
    assert list(events) == []


def test_two_argument_hook_gets_the_parsed_body() -> None:
    """A 1.0-style require_auth(request, body) receives the validated BeaconRequest."""
    bodies: list[Any] = []

    def require_auth(_request: Request, body: BeaconRequest) -> None:
        bodies.append(body)

    client = beacon_client(require_auth=require_auth)
    with capture_events():
        response = client.post("/api/audit/beacon", json={"events": [item(element_id="x1")]})
    assert response.status_code == 200
    assert isinstance(bodies[0], BeaconRequest)
    assert bodies[0].events[0].element_id == "x1"


def test_async_hook_is_awaited() -> None:
    """An async require_auth is awaited and its refusal applies."""

    async def require_auth(_request: Request, _body: BeaconRequest) -> None:
        raise HTTPException(status_code=403, detail="No beacons for you")

    client = beacon_client(require_auth=require_auth)
    response = client.post("/api/audit/beacon", json={"events": [item()]})
    assert response.status_code == 403


def test_anonymous_batch_is_accepted_when_the_hook_refuses() -> None:
    """A batch of anonymous types calls require_auth in soft mode: its refusal is not the answer."""
    calls: list[Request] = []

    def require_auth(request: Request) -> None:
        calls.append(request)
        raise HTTPException(status_code=401)

    client = beacon_client(require_auth=require_auth, anonymous_event_types=LOGIN_TYPES)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json={"events": [_login_item()]})
    assert response.status_code == 200
    assert len(calls) == 1
    assert events[0].actor_uid is None


def test_mixed_batch_goes_through_the_hook() -> None:
    """One non-anonymous item makes the whole batch need authentication."""

    def require_auth(_request: Request) -> None:
        raise HTTPException(status_code=401)

    client = beacon_client(require_auth=require_auth, anonymous_event_types=LOGIN_TYPES)
    body = {"events": [_login_item(), item(event_type="ui.chat.new_chat.clicked")]}
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json=body)
    assert response.status_code == 401
    assert list(events) == []


def test_anonymous_only_router_refuses_other_types() -> None:
    """Without a hook, a batch that is not all anonymous types gets 401."""
    client = beacon_client(anonymous_event_types=LOGIN_TYPES)
    response = client.post(
        "/api/audit/beacon", json={"events": [item(event_type="ui.chat.new_chat.clicked")]}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication required"}


def test_anonymous_only_router_refuses_an_empty_batch() -> None:
    """An empty batch is not an anonymous batch: without a hook it gets 401."""
    client = beacon_client(anonymous_event_types=LOGIN_TYPES)
    assert client.post("/api/audit/beacon", json={"events": []}).status_code == 401


@pytest.mark.parametrize(
    "options",
    [
        {"require_auth": require_test_login},
        {"require_auth": require_test_login, "anonymous_event_types": LOGIN_TYPES},
        {"allow_anonymous": True},
    ],
    ids=["login-required", "anonymous-types-logged-in", "allow-anonymous"],
)
def test_get_context_supplies_the_actor(options: dict[str, Any]) -> None:
    """The actor comes from get_context when require_auth passed, or when anyone may post."""
    client = beacon_client(**options)
    with capture_events() as events:
        client.post(
            "/api/audit/beacon",
            json={"events": [_login_item()]},
            headers={"X-Test-User": "u-7", LOGIN_HEADER: "ok"},
        )
    assert (events[0].actor_uid, events[0].actor_email) == ("u-7", "u-7@example.com")


def test_anonymous_batch_without_a_hook_is_stored_without_an_actor() -> None:
    """Without require_auth nothing vouches for get_context's actor: the batch has none."""
    client = beacon_client(anonymous_event_types=LOGIN_TYPES)
    with capture_events() as events:
        response = client.post(
            "/api/audit/beacon", json={"events": [_login_item()]}, headers={"X-Test-User": "u-7"}
        )
    assert response.status_code == 200
    assert (events[0].actor_uid, events[0].actor_email) == (None, None)
