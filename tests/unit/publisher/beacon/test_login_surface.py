"""The login-surface rule (facts sheet §5.9): each condition, the helpers, the router option,
and a 1.0.35 host applying the rule in its own require_auth(request, body)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from il_audit.beacon_auth import (
    enrich_beacon_events_with_path,
    is_login_surface_beacon_batch,
    is_login_surface_beacon_request,
    login_surface,
    referer_page_path,
    request_page_path,
)
from il_audit.publisher import AuditContext
from il_audit.publisher.beacon import BeaconConfigError, BeaconEventItem, BeaconRequest
from il_audit.publisher.testing import capture_events
from tests.support.beacon import LOGIN_HEADER, beacon_app, beacon_client, item, require_test_login

VIEW = {"event_type": "ui.tab.viewed", "surface": "auth_login", "element_id": "login_page",
        "path": "/login?next=%2Fchat"}  # fmt: skip
CLICK = {"event_type": "ui.element.clicked", "surface": "auth_login",
         "element_id": "google_sign_in", "path": "/login"}  # fmt: skip
MICROSOFT = {**CLICK, "element_id": "microsoft_sign_in"}


def test_a_login_page_batch_passes() -> None:
    """A view of the page and a click on each provider, on /login (query ignored)."""
    assert is_login_surface_beacon_batch([VIEW, CLICK, MICROSOFT])
    assert is_login_surface_beacon_batch([BeaconEventItem(**CLICK)])


@pytest.mark.parametrize(
    ("events", "referer_path"),
    [
        pytest.param([], "/login", id="empty batch"),
        pytest.param([{**VIEW, "event_type": "ui.drive.search"}], None, id="another type"),
        pytest.param([{**CLICK, "surface": "main_nav"}], None, id="another surface"),
        pytest.param([{**CLICK, "surface": None}], None, id="no surface"),
        pytest.param([{**VIEW, "path": "/chat?x=/login"}], None, id="another page"),
        pytest.param([{**VIEW, "path": "/login/"}], None, id="not exactly /login"),
        pytest.param([{**VIEW, "path": None}], None, id="no page at all"),
        pytest.param([{**VIEW, "element_id": "google_sign_in"}], None, id="view of another id"),
        pytest.param([{**CLICK, "element_id": "login_page"}], None, id="click on another id"),
        pytest.param([{**CLICK, "element_id": "github_sign_in"}], None, id="unknown provider"),
        pytest.param([VIEW, {**CLICK, "surface": "x"}], None, id="one bad event spoils all"),
    ],
)
def test_each_condition_alone_refuses_the_batch(
    events: list[dict[str, Any]], referer_path: str | None
) -> None:
    assert not is_login_surface_beacon_batch(events, referer_path=referer_path)


def test_the_page_comes_from_the_referer_or_an_earlier_event() -> None:
    """The Referer's path counts for every event; an event's own path for it and later ones."""
    no_path = {**VIEW, "path": None}
    assert is_login_surface_beacon_batch([no_path], referer_path="/login?next=/chat")
    assert not is_login_surface_beacon_batch([no_path], referer_path="/chat")
    assert is_login_surface_beacon_batch([VIEW, {**CLICK, "path": None}])
    assert not is_login_surface_beacon_batch([{**CLICK, "path": None}, VIEW])


def test_a_request_body_is_checked_like_its_events() -> None:
    body = BeaconRequest(events=[BeaconEventItem(**VIEW)])
    assert is_login_surface_beacon_request(body)
    assert not is_login_surface_beacon_request(BeaconRequest(events=[]), referer_path="/login")


def _request(**headers: str) -> Request:
    raw = [(key.replace("_", "-").encode(), value.encode()) for key, value in headers.items()]
    return Request({"type": "http", "headers": raw, "method": "POST"})


def test_page_paths_from_the_headers() -> None:
    """Referer: its path and query (``/`` when empty); X-IL-Audit-Path first when set."""
    assert referer_page_path(_request(referer="https://app.example/login?next=/x#f")) == (
        "/login?next=/x"
    )
    assert referer_page_path(_request(referer="https://app.example")) == "/"
    assert referer_page_path(_request()) is None
    both = _request(referer="https://app.example/a", x_il_audit_path="/login?n=1")
    assert request_page_path(both) == "/login?n=1"
    assert request_page_path(_request(referer="https://app.example/a")) == "/a"
    assert request_page_path(_request()) is None


def test_enrich_fills_only_blank_paths_and_copies() -> None:
    events = [{"element_id": "a"}, {"element_id": "b", "path": " "}, {"path": "/own"}]
    enriched = enrich_beacon_events_with_path(events, page_path="/login")
    assert [event.get("path") for event in enriched] == ["/login", "/login", "/own"]
    assert events[0] == {"element_id": "a"}
    assert enrich_beacon_events_with_path(events, page_path=None) == events


def test_login_surface_takes_the_path_and_ids_as_parameters() -> None:
    rule = login_surface("/signin", element_ids=["okta_sign_in"])
    click = {**CLICK, "element_id": "okta_sign_in", "path": "/signin"}
    assert rule.matches([click, {**VIEW, "path": None}])
    assert not rule.matches([CLICK])  # /login and google_sign_in are not this page's
    for bad in ("login", "/login?x=1", ""):
        with pytest.raises(BeaconConfigError):
            login_surface(bad)
    with pytest.raises(BeaconConfigError):
        login_surface(element_ids=[])


def test_router_option_accepts_a_login_batch_without_an_actor_and_nothing_else() -> None:
    """anonymous=login_surface(): the login page's batch is stored with no actor; any other
    batch needs require_auth (here absent: 401)."""
    client = beacon_client(anonymous=login_surface(path="/login"))
    headers = {"X-Test-User": "forged", "Referer": "http://testserver/login"}
    with capture_events() as events:
        ok = client.post("/api/audit/beacon", json={"events": [item(**{**VIEW, "path": None})]},
                         headers=headers)  # fmt: skip
        refused = client.post("/api/audit/beacon", json={"events": [item()]}, headers=headers)
    assert ok.json() == {"status": "ok", "accepted": 1}
    assert refused.status_code == 401
    assert [(event.event_type, event.actor_uid) for event in events] == [("ui.tab.viewed", None)]


def test_router_option_keeps_the_actor_of_a_logged_in_user() -> None:
    """With require_auth, a login batch calls it in soft mode: it passes, the actor is kept."""
    client = beacon_client(require_auth=require_test_login, anonymous=login_surface())
    with capture_events() as events:
        client.post("/api/audit/beacon", json={"events": [item(**CLICK)]},
                    headers={"X-Test-User": "alice", LOGIN_HEADER: "ok"})  # fmt: skip
        client.post("/api/audit/beacon", json={"events": [item(**CLICK)]},
                    headers={"X-Test-User": "mallory"})  # fmt: skip
    assert [event.actor_uid for event in events] == ["alice", None]


def test_router_refuses_an_anonymous_option_that_is_not_a_rule() -> None:
    with pytest.raises(BeaconConfigError):
        beacon_app(anonymous=["ui.tab.viewed"])


def _seed_host_require_auth(request: Request, body: BeaconRequest) -> None:
    """A 1.0.35 host's hook: the login page's batch passes, anything else needs a login."""
    if is_login_surface_beacon_request(body, referer_path=referer_page_path(request)):
        return
    require_test_login(request)


def _verified_actor(request: Request) -> AuditContext:
    """A 1.0.35 host's get_context: the user its login verified, else nobody."""
    if request.headers.get(LOGIN_HEADER) != "ok":
        return AuditContext()
    uid = request.headers.get("x-test-user")
    return AuditContext(actor_uid=uid, actor_email=f"{uid}@example.com" if uid else None)


def test_seed_host_rule_in_require_auth_keeps_address_keying() -> None:
    """Forged Referers and X-Forwarded-For entries make a login batch, never a new budget:
    the address (the proxy's entry, one hop trusted) gets 8 posts, then 429; a logged-in
    user keeps their own budget and actor."""
    client = TestClient(beacon_app(require_auth=_seed_host_require_auth,
                                   get_context=_verified_actor, trusted_proxy_hops=1))  # fmt: skip
    login_batch = {"events": [item(**{**VIEW, "path": None})]}
    with capture_events() as events:
        statuses = [
            client.post("/api/audit/beacon", json=login_batch, headers={
                "Referer": f"http://testserver/login?attempt={n}",
                "X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7",
                "X-Test-User": f"name-{n}",
            }).status_code
            for n in range(12)
        ]  # fmt: skip
        other = client.post("/api/audit/beacon", json={"events": [item()]},
                            headers={"Referer": "http://testserver/login"})  # fmt: skip
        alice = client.post("/api/audit/beacon", json={"events": [item()]},
                            headers={"X-Forwarded-For": "203.0.113.7", "X-Test-User": "alice",
                                     LOGIN_HEADER: "ok"})  # fmt: skip
    assert statuses == [200] * 8 + [429] * 4
    assert other.status_code == 401
    assert alice.status_code == 200
    assert [event.actor_uid for event in events] == [None] * 8 + ["alice"]
