"""The small parts: origin parsing, the limiter, client addresses and page paths."""

from __future__ import annotations

import pytest

from il_audit.publisher.beacon._client_address import client_address, normalise_address
from il_audit.publisher.beacon._origin import Origin, parse_origin
from il_audit.publisher.beacon._page import request_page_path, strip_path, user_agent
from il_audit.publisher.beacon._ratelimit import SlidingWindowLimiter, retry_after_header


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://App.Example.com", Origin("https", "app.example.com", None)),
        ("https://app.example.com:443", Origin("https", "app.example.com", None)),
        ("http://127.0.0.1:8080", Origin("http", "127.0.0.1", 8080)),
        ("null", None),
        ("ftp://x.example", None),
        ("https://x.example/path", None),
        ("https://user@x.example", None),
        ("https://x.example:99999", None),
    ],
)
def test_origins_are_normalized_or_refused(value: str, expected: Origin | None) -> None:
    """Origins parse to lowercase scheme/host with default ports dropped; anything else is None."""
    assert parse_origin(value) == expected


def test_limiter_slides() -> None:
    """A key regains one request each time an old one leaves the window."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(max_requests=2, window_seconds=10, max_keys=10, clock=clock)
    assert limiter.check("a") is None
    clock.now += 4
    assert limiter.check("a") is None
    assert limiter.check("a") == pytest.approx(6.0)
    clock.now += 6.01
    assert limiter.check("a") is None


def test_refused_requests_are_not_recorded() -> None:
    """Knocking while limited does not push the retry time back."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(max_requests=1, window_seconds=10, max_keys=10, clock=clock)
    limiter.check("a")
    for _ in range(100):
        clock.now += 0.05
        limiter.check("a")
    clock.now = 1010.01
    assert limiter.check("a") is None


def test_limiter_memory_is_bounded_by_max_keys() -> None:
    """A flood of distinct keys keeps at most max_keys of them, evicting the oldest."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(max_requests=8, window_seconds=10, max_keys=100, clock=clock)
    for n in range(20_000):
        limiter.check(f"ip:{n}")
    assert len(limiter) == 100
    assert limiter.check("ip:19999") is None  # recent keys are still tracked


def test_expired_keys_are_pruned() -> None:
    """Keys idle for longer than the window are forgotten."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(max_requests=8, window_seconds=10, max_keys=100, clock=clock)
    for n in range(50):
        limiter.check(f"k{n}")
    clock.now += 11
    limiter.check("fresh")
    assert len(limiter) == 1


@pytest.mark.parametrize(("seconds", "header"), [(0.0, "1"), (0.2, "1"), (3.01, "4"), (10, "10")])
def test_retry_after_is_whole_seconds_at_least_one(seconds: float, header: str) -> None:
    """Retry-After rounds up and never says 0."""
    assert retry_after_header(seconds) == header


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        (["1.1.1.1"], 0, "10.0.0.1"),
        (["6.6.6.6, 1.1.1.1"], 1, "1.1.1.1"),
        (["6.6.6.6, 1.1.1.1, 10.0.0.2"], 2, "1.1.1.1"),
        (["6.6.6.6", "1.1.1.1"], 1, "1.1.1.1"),
        (["1.1.1.1"], 3, "1.1.1.1"),
        ([], 1, "10.0.0.1"),
    ],
)
def test_client_address_trusts_only_the_configured_hops(
    forwarded: list[str], hops: int, expected: str
) -> None:
    """X-Forwarded-For is read from the right, as far as the trusted hops reach."""
    client = client_address(peer="10.0.0.1", forwarded_for=forwarded, trusted_hops=hops)
    assert client.address == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]:443", "fe80::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("unknown", None),
        ("1.2.3.4:", None),
        ("1.2.3.4:http", None),
        ("[::1", None),
        ("[::1]x", None),
        ("1.2.3.4.5", None),
        ("", None),
    ],
)
def test_addresses_are_normalised(value: str, expected: str | None) -> None:
    """Ports, brackets and zone ids go, IPv4-mapped IPv6 is unwrapped; non-addresses are None."""
    address = normalise_address(value)
    assert (str(address) if address is not None else None) == expected


@pytest.mark.parametrize(
    ("deployment", "peer", "forwarded", "hops"),
    [
        ("Cloud Run, Google's front end", "169.254.1.1", ["6.6.6.6, 203.0.113.9"], 1),
        (
            "external Application Load Balancer",
            "169.254.1.1",
            ["6.6.6.6, 203.0.113.9, 34.1.2.3"],
            2,
        ),
        ("GKE, L4 load balancer", "203.0.113.9", ["6.6.6.6"], 0),
        ("nginx on localhost", "127.0.0.1", ["6.6.6.6, 203.0.113.9"], 1),
    ],
    ids=["cloud-run", "load-balancer", "gke-l4", "nginx"],
)
def test_documented_deployments_find_the_client(
    deployment: str, peer: str, forwarded: list[str], hops: int
) -> None:
    """The hops per deployment (docs/ui-beacon-convention.md) pick the client out of what each
    front end sends."""
    client = client_address(peer=peer, forwarded_for=forwarded, trusted_hops=hops)
    assert client.address == "203.0.113.9", deployment


def test_ipv6_rate_key_is_the_64_and_the_address_stays_whole() -> None:
    """An IPv6 client's rate-limit key is its /64; the address (hashed when stored) is whole."""
    client = client_address(peer="2001:db8:1:2:3:4:5:6", forwarded_for=[], trusted_hops=0)
    assert (client.address, client.rate_key) == ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")


def test_a_released_request_no_longer_counts() -> None:
    """release() gives back the latest request of a key, so a full key has room again."""
    limiter = SlidingWindowLimiter(
        max_requests=1, window_seconds=10, max_keys=10, clock=FakeClock()
    )
    assert limiter.check("a") is None
    limiter.release("a")
    assert limiter.check("a") is None
    assert limiter.check("a") is not None


def test_unknown_peer_is_named_unknown() -> None:
    """Without a peer address the key is 'unknown', as in the seed."""
    assert client_address(peer=None, forwarded_for=[], trusted_hops=0).address == "unknown"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a/b?c=d#e", "/a/b"),
        ("https://host.example/x?y", "/x"),
        ("https://host.example", "/"),
        ("relative/path", None),
        ("/bad\npath", None),
        ("", None),
    ],
)
def test_page_paths_keep_only_the_path(value: str, expected: str | None) -> None:
    """Paths and URLs lose query and fragment; anything not a path is dropped."""
    assert strip_path(value, limit=512) == expected


def test_audit_path_header_wins_over_referer() -> None:
    """X-IL-Audit-Path is preferred; the Referer is the fallback."""
    assert request_page_path(audit_path="/a", referer="http://h/b", limit=50) == "/a"
    assert request_page_path(audit_path=None, referer="http://h/b", limit=50) == "/b"


def test_user_agent_is_trimmed() -> None:
    """The user agent is cut to the string limit."""
    assert user_agent("x" * 600, limit=512) == "x" * 512
