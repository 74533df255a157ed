"""Honest keys: who buys a rate-limit budget, one address per client, and the stored hash."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from il_audit.publisher.beacon.router import create_beacon_router
from il_audit.publisher.testing import capture_events
from tests.support.beacon import (
    LOGIN_HEADER,
    actor_from_header,
    beacon_app,
    beacon_settings,
    item,
    require_test_login,
    served,
)

LOGIN_TYPES = ["ui.tab.viewed"]
LOGIN_PAGE = {"events": [item(event_type="ui.tab.viewed", surface="auth_login")]}


def _post_each(client: TestClient, headers: list[dict[str, str]]) -> tuple[list[int], list[Any]]:
    """POST the login-page batch once per header set; (statuses, stored events)."""
    with capture_events() as events:
        statuses = [
            client.post("/api/audit/beacon", json=LOGIN_PAGE, headers=h).status_code
            for h in headers
        ]
    return statuses, list(events)


def test_rotating_names_on_anonymous_types_buys_no_budget() -> None:
    """A client naming itself anew on each post gets the address's 8 and no stored names."""
    client = TestClient(
        beacon_app(require_auth=require_test_login, anonymous_event_types=LOGIN_TYPES)
    )
    statuses, events = _post_each(client, [{"X-Test-User": f"name-{n}"} for n in range(20)])
    assert statuses == [200] * 8 + [429] * 12
    assert {(event.actor_uid, event.actor_email) for event in events} == {(None, None)}


def test_logged_in_users_keep_their_actor_and_budget_on_anonymous_types() -> None:
    """A logged-in user's login-page events keep the actor, keyed apart from anonymous posts."""
    client = TestClient(
        beacon_app(require_auth=require_test_login, anonymous_event_types=LOGIN_TYPES)
    )
    _post_each(client, [{}] * 9)  # anonymous visitors at the same address use its budget
    statuses, events = _post_each(client, [{"X-Test-User": "alice", LOGIN_HEADER: "ok"}])
    assert statuses == [200]
    assert events[0].actor_uid == "alice"


def test_allow_anonymous_keys_every_batch_by_address() -> None:
    """With allow_anonymous=True no actor is verified, so rotating names buys no budget."""
    client = TestClient(beacon_app(allow_anonymous=True))
    statuses, events = _post_each(client, [{"X-Test-User": f"name-{n}"} for n in range(12)])
    assert statuses == [200] * 8 + [429] * 4
    assert [event.actor_uid for event in events] == [f"name-{n}" for n in range(8)]


def _statuses_for(forwarded: list[str]) -> list[int]:
    client = TestClient(beacon_app(trusted_proxy_hops=1))
    return [
        client.post(
            "/api/audit/beacon", json={"events": []}, headers={"X-Forwarded-For": value}
        ).status_code
        for value in forwarded
    ]


def test_one_ipv4_client_spelled_many_ways_has_one_budget() -> None:
    """Ports, brackets and IPv4-mapped IPv6 spellings of one address share its budget."""
    spellings = [
        "203.0.113.9", "203.0.113.9:1", "203.0.113.9:2", "203.0.113.9:65535", " 203.0.113.9",
        "::ffff:203.0.113.9", "::FFFF:cb00:7109", "[::ffff:203.0.113.9]:443",
        "0:0:0:0:0:ffff:203.0.113.9", "203.0.113.9:8080", "[::ffff:203.0.113.9]", "203.0.113.9:3",
    ]  # fmt: skip
    assert _statuses_for(spellings) == [200] * 8 + [429] * 4


def test_ipv6_clients_are_keyed_by_their_64() -> None:
    """Any address of one /64, however spelled, uses one budget; the next /64 has its own."""
    block = [
        "2001:db8:1:2::1", "2001:DB8:1:2::2", "[2001:db8:1:2::3]:443", "2001:db8:1:2:0:0:0:4",
        "2001:db8:1:2:ffff:ffff:ffff:ffff", "[2001:db8:1:2::5]", "2001:db8:1:2::6",
        "2001:db8:1:2:aaaa::7", "2001:0db8:0001:0002::8", "2001:db8:1:2::9", "2001:db8:1:2::a",
    ]  # fmt: skip
    statuses = _statuses_for([*block, "2001:db8:1:3::1"])
    assert statuses == [200] * 8 + [429] * 3 + [200]


def test_unparseable_forwarded_entries_fall_back_to_the_peer() -> None:
    """``unknown`` and garbage in X-Forwarded-For are not addresses: the peer's budget applies."""
    garbage = ["unknown", "nonsense", "1.2.3.4.5", "[::1", "_hidden", "300.1.1.1"] * 2
    assert _statuses_for(garbage) == [200] * 8 + [429] * 4


def _hash_of(forwarded: str) -> str:
    client = TestClient(beacon_app(trusted_proxy_hops=1, settings=beacon_settings(hash_key="k")))
    with capture_events() as events:
        client.post(
            "/api/audit/beacon", json={"events": [item()]}, headers={"X-Forwarded-For": forwarded}
        )
    assert events[0].payload is not None
    digest: str = events[0].payload["client_address_hash"]
    return digest


def test_stored_hash_is_of_the_full_normalised_address() -> None:
    """The HMAC is of the canonical address: one per spelling, never one per /64."""
    expected = hmac.new(b"k", b"2001:db8::1", hashlib.sha256).hexdigest()
    assert _hash_of("[2001:DB8:0::1]:443") == expected
    assert _hash_of("2001:db8::2") != expected


def test_cloud_run_without_trusted_hops_warns_at_build(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On Cloud Run (K_SERVICE) with no trusted hop, building the router logs one warning."""
    monkeypatch.setenv("K_SERVICE", "web")
    with caplog.at_level(logging.WARNING, logger="il_audit.publisher.beacon"):
        create_beacon_router(app_name="web", get_context=actor_from_header, allow_anonymous=True)
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "IL_BEACON_TRUSTED_PROXY_HOPS" in warnings[0].getMessage()


@pytest.mark.parametrize(("service", "hops"), [("web", 1), ("", 0)])
def test_no_warning_with_hops_or_off_cloud_run(
    service: str, hops: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Trusted hops on Cloud Run, or hops 0 elsewhere, build without a warning."""
    monkeypatch.setenv("K_SERVICE", service)
    with caplog.at_level(logging.WARNING, logger="il_audit.publisher.beacon"):
        create_beacon_router(
            app_name="web",
            get_context=actor_from_header,
            allow_anonymous=True,
            trusted_proxy_hops=hops,
        )
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.parametrize(("hops", "accepted"), [(0, 12), (1, 8)])
def test_uvicorn_trusting_every_proxy_hands_over_the_leftmost_entry(
    hops: int, accepted: int
) -> None:
    """Under uvicorn --forwarded-allow-ips='*' the peer is the client's own leftmost entry;
    counted hops read the header from the right and ignore that peer."""
    app = beacon_app(trusted_proxy_hops=hops)
    with served(app, proxy_headers=True, forwarded_allow_ips="*") as url, httpx.Client() as http:
        statuses = [
            http.post(
                url + "/api/audit/beacon",
                json={"events": []},
                headers={"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.9"},
            ).status_code
            for n in range(12)
        ]
    assert statuses.count(200) == accepted
