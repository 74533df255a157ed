"""The rate limit: 8 requests per 10 s per actor, else per client address; 429 with Retry-After."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from il_audit.publisher.testing import capture_events
from tests.support.beacon import LOGIN_HEADER, beacon_app, beacon_client, item, require_test_login

BODY = {"events": [item()]}


def _statuses(client: TestClient, count: int, headers: dict[str, str] | None = None) -> list[int]:
    with capture_events():
        return [
            client.post("/api/audit/beacon", json=BODY, headers=headers or {}).status_code
            for _ in range(count)
        ]


def test_ninth_request_in_the_window_gets_429() -> None:
    """With the seed's defaults, 8 requests pass and the 9th within 10 s is refused."""
    client = beacon_client()
    assert _statuses(client, 9) == [200] * 8 + [429]


def test_429_says_when_to_retry() -> None:
    """The refusal carries the seed's detail and a Retry-After in whole seconds."""
    client = beacon_client()
    _statuses(client, 8)
    response = client.post("/api/audit/beacon", json=BODY)
    assert response.status_code == 429
    assert response.json() == {"detail": "Beacon rate limit exceeded"}
    assert 1 <= int(response.headers["Retry-After"]) <= 10


def test_refused_requests_emit_nothing() -> None:
    """A rate-limited batch is not emitted."""
    client = beacon_client()
    _statuses(client, 8)
    with capture_events() as events:
        client.post("/api/audit/beacon", json=BODY)
    assert list(events) == []


def test_each_actor_has_its_own_budget() -> None:
    """Two signed-in users behind one address are limited separately."""
    client = beacon_client(require_auth=require_test_login)
    alice = {"X-Test-User": "alice", LOGIN_HEADER: "ok"}
    bob = {"X-Test-User": "bob", LOGIN_HEADER: "ok"}
    assert _statuses(client, 8, alice) == [200] * 8
    assert _statuses(client, 1, bob) == [200]
    assert _statuses(client, 1, alice) == [429]


def test_empty_batches_count_too() -> None:
    """Empty batches use the budget, as in the seed."""
    client = beacon_client()
    for _ in range(8):
        assert client.post("/api/audit/beacon", json={"events": []}).json()["accepted"] == 0
    assert client.post("/api/audit/beacon", json={"events": []}).status_code == 429


def test_forged_forwarded_for_does_not_buy_a_new_budget() -> None:
    """With no trusted proxy, changing X-Forwarded-For does not give a client a new budget."""
    client = beacon_client()
    statuses = [
        client.post(
            "/api/audit/beacon", json={"events": []}, headers={"X-Forwarded-For": f"10.0.0.{n}"}
        ).status_code
        for n in range(9)
    ]
    assert statuses == [200] * 8 + [429]


def test_forged_leftmost_entry_is_ignored_behind_one_proxy() -> None:
    """Behind one trusted proxy, only the entry the proxy appended keys the limit."""
    client = TestClient(beacon_app(trusted_proxy_hops=1))
    statuses = [
        client.post(
            "/api/audit/beacon",
            json={"events": []},
            headers={"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.9"},
        ).status_code
        for n in range(9)
    ]
    assert statuses == [200] * 8 + [429]


def test_proxied_clients_are_told_apart_behind_a_trusted_proxy() -> None:
    """Behind one trusted proxy, two real clients (the appended entries) have separate budgets."""
    client = TestClient(beacon_app(trusted_proxy_hops=1))
    first = {"X-Forwarded-For": "203.0.113.9"}
    second = {"X-Forwarded-For": "198.51.100.4"}
    assert [client.post("/api/audit/beacon", json={"events": []}, headers=first).status_code
            for _ in range(9)][-1] == 429  # fmt: skip
    assert client.post("/api/audit/beacon", json={"events": []}, headers=second).status_code == 200


def test_proxy_hops_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_BEACON_TRUSTED_PROXY_HOPS=1 makes the router key on the proxy-appended entry."""
    from il_audit.publisher.beacon import reset_beacon_settings_cache

    monkeypatch.setenv("IL_BEACON_TRUSTED_PROXY_HOPS", "1")
    reset_beacon_settings_cache()
    client = beacon_client()
    for n in range(12):  # 12 clients behind the proxy: each has its own budget
        headers = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert (
            client.post("/api/audit/beacon", json={"events": []}, headers=headers).status_code
            == 200
        )
