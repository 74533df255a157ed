"""The router serves the browser scripts with validators, and the script keeps the seed's API."""

from __future__ import annotations

from importlib import resources

import pytest

from tests.support.beacon import beacon_client

SCRIPT = "/api/audit/audit_beacon.js"
SCRIPTS = ("audit_beacon.js", "visit_session.js", "login_audit.js")


def _script_text(name: str = "audit_beacon.js") -> str:
    return resources.files("il_audit").joinpath("static", name).read_text("utf-8")


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_packaged_script_is_served_alike(name: str) -> None:
    """audit_beacon.js, visit_session.js and login_audit.js: the file, as JavaScript, cached."""
    client = beacon_client()
    response = client.get(f"/api/audit/{name}")
    assert response.status_code == 200
    assert response.text == _script_text(name)
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["x-content-type-options"] == "nosniff"
    revalidated = client.get(
        f"/api/audit/{name}", headers={"If-None-Match": response.headers["etag"]}
    )
    assert revalidated.status_code == 304


def test_scripts_have_their_own_etags() -> None:
    """Each script's ETag is its own digest, so one cached script never stands for another."""
    client = beacon_client()
    etags = {client.get(f"/api/audit/{name}").headers["etag"] for name in SCRIPTS}
    assert len(etags) == len(SCRIPTS)


def test_script_is_served_with_cache_headers() -> None:
    """GET returns the packaged file as JavaScript with an ETag and a max-age."""
    response = beacon_client().get(SCRIPT)
    assert response.status_code == 200
    assert response.text == _script_text()
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["etag"].startswith('"')


def test_matching_etag_gets_304() -> None:
    """A revalidation with the current ETag is answered 304 without a body."""
    client = beacon_client()
    etag = client.get(SCRIPT).headers["etag"]
    response = client.get(SCRIPT, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_stale_etag_gets_the_script() -> None:
    """Another version's ETag gets the full script."""
    response = beacon_client().get(SCRIPT, headers={"If-None-Match": '"old"'})
    assert response.status_code == 200


def test_script_serving_can_be_turned_off() -> None:
    """serve_script=False leaves every script path unrouted."""
    client = beacon_client(serve_script=False)
    for name in SCRIPTS:
        assert client.get(f"/api/audit/{name}").status_code == 404


def test_only_the_packaged_scripts_are_served() -> None:
    """Another name under /api/audit/ (another static file, a traversal) is not routed."""
    client = beacon_client()
    for path in ("/api/audit/other.js", "/api/audit/..%2F__init__.py", "/api/audit/static.js"):
        assert client.get(path).status_code == 404


def test_script_keeps_the_seed_globals_and_defaults() -> None:
    """The 0.1 globals (and the auditFlush alias) and defaults are all in the script."""
    text = _script_text()
    for name in ("initAuditBeacon", "auditTrack", "auditFieldsFromElement", "auditBeaconFlush"):
        assert f"global.{name} = " in text
    assert "global.auditFlush = flush;" in text
    assert "global.auditBeaconFlush = flush;" in text
    assert "flushIntervalMs: 30000," in text
    assert "batchSize: 20," in text
    assert "autoTrackClick: false," in text


def test_script_max_age_follows_the_settings() -> None:
    """IL_BEACON_SCRIPT_MAX_AGE_SECONDS sets the served script's max-age."""
    from tests.support.beacon import beacon_settings

    client = beacon_client(settings=beacon_settings(script_max_age_seconds=60))
    assert client.get(SCRIPT).headers["cache-control"] == "public, max-age=60"
