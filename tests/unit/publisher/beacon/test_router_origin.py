"""Cross-site posts get 403: Origin (host and port, not scheme), else Sec-Fetch-Site."""

from __future__ import annotations

import pytest

from il_audit.publisher.testing import capture_events
from tests.support.beacon import SAME_ORIGIN, beacon_client, item

BODY = {"events": [item()]}


def _post(headers: dict[str, str], **options: object) -> int:
    client = beacon_client(**options)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json=BODY, headers=headers)
    assert len(events) == (1 if response.status_code == 200 else 0)
    return response.status_code


def test_same_origin_post_is_accepted() -> None:
    """Origin equal to the app's own origin passes."""
    assert _post({"Origin": SAME_ORIGIN}) == 200


def test_cross_site_origin_is_refused() -> None:
    """A post from another site is refused with 403 and nothing is emitted."""
    assert _post({"Origin": "https://evil.example"}) == 403


def test_refusal_does_not_echo_the_origin() -> None:
    """The 403 body is fixed text: the attacker-chosen Origin is not reflected."""
    client = beacon_client()
    response = client.post(
        "/api/audit/beacon", json=BODY, headers={"Origin": "https://<script>x</script>.example"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Cross-site beacon refused"}


def test_proxied_https_origin_matches_the_http_app() -> None:
    """Behind a TLS-terminating proxy the browser's https Origin still matches the app's host."""
    assert _post({"Origin": "https://testserver"}) == 200


def test_explicit_port_must_match() -> None:
    """Same host on another port is another origin: refused."""
    assert _post({"Origin": "http://testserver:8081"}) == 403


def test_host_with_port_matches_origin_with_that_port() -> None:
    """Host and port are compared: an app on :8443 accepts an Origin on :8443."""
    client = beacon_client()
    with capture_events():
        response = client.post(
            "/api/audit/beacon",
            json=BODY,
            headers={"Origin": "https://app.example:8443", "Host": "app.example:8443"},
        )
    assert response.status_code == 200


def test_null_origin_is_refused() -> None:
    """Opaque origins (sandboxed frames) never count as same-origin."""
    assert _post({"Origin": "null"}) == 403


def test_allow_listed_origin_is_accepted() -> None:
    """An origin in allowed_origins may post, scheme included."""
    options = {"allowed_origins": ["https://admin.example.com"]}
    assert _post({"Origin": "https://admin.example.com"}, **options) == 200
    assert _post({"Origin": "http://admin.example.com"}, **options) == 403


def test_allow_list_keeps_same_origin() -> None:
    """Listing other origins does not lock the app's own pages out."""
    assert _post({"Origin": SAME_ORIGIN}, allowed_origins=["https://admin.example.com"]) == 200


@pytest.mark.parametrize(
    ("site", "status"),
    [("same-origin", 200), ("none", 200), ("same-site", 403), ("cross-site", 403)],
)
def test_sec_fetch_site_decides_without_origin(site: str, status: int) -> None:
    """Without Origin, Sec-Fetch-Site decides: only same-origin (or none) passes."""
    assert _post({"Sec-Fetch-Site": site}) == status


def test_request_without_either_header_is_not_cross_site() -> None:
    """A non-browser client (no Origin, no Sec-Fetch-Site) is not refused as cross-site."""
    assert _post({}) == 200
