"""Building the router: secure by default, and options checked before any request arrives."""

from __future__ import annotations

import pytest
from fastapi import Request

from il_audit.beacon_router import create_beacon_router
from il_audit.publisher.beacon import BeaconConfigError
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy
from tests.support.beacon import actor_from_header, beacon_client, item

BEACON = "/api/audit/beacon"


def _deny(_request: Request) -> None:
    return None


def test_router_without_auth_hook_is_refused() -> None:
    """No require_auth and no explicit anonymity: building fails, naming both ways out."""
    with pytest.raises(BeaconConfigError) as raised:
        create_beacon_router(app_name="web", get_context=actor_from_header)
    message = str(raised.value)
    assert "require_auth" in message
    assert "allow_anonymous=True" in message
    assert "anonymous_event_types" in message


def test_allow_anonymous_builds_without_hook() -> None:
    """allow_anonymous=True is an explicit choice, so the router builds."""
    router = create_beacon_router(
        app_name="web", get_context=actor_from_header, allow_anonymous=True
    )
    assert {route.path for route in router.routes} == {  # type: ignore[attr-defined]
        "/api/audit/beacon",
        "/api/audit/audit_beacon.js",
        "/api/audit/visit_session.js",
        "/api/audit/login_audit.js",
    }


def test_anonymous_event_types_build_without_hook() -> None:
    """Naming the anonymous (pre-login) types is enough to build without a hook: the router
    takes those types from anyone and asks for a login for the others."""
    client = beacon_client(anonymous_event_types=["ui.tab.viewed"])
    with capture_events() as events:
        named = client.post(BEACON, json={"events": [item(event_type="ui.tab.viewed")]})
        other = client.post(BEACON, json={"events": [item(event_type="ui.element.clicked")]})
    assert named.json() == {"status": "ok", "accepted": 1}
    assert other.status_code == 401
    assert events.event_types == ["ui.tab.viewed"]


def test_hook_and_allow_anonymous_together_are_refused() -> None:
    """A hook and allow_anonymous=True contradict each other."""
    with pytest.raises(BeaconConfigError):
        create_beacon_router(
            app_name="web", get_context=actor_from_header, require_auth=_deny, allow_anonymous=True
        )


def test_anonymous_types_must_be_beacon_types() -> None:
    """An anonymous type that browsers may not send at all is a configuration error."""
    with pytest.raises(BeaconConfigError, match="not beacon types"):
        create_beacon_router(
            app_name="web",
            get_context=actor_from_header,
            anonymous_event_types=["auth.login.succeeded"],
        )


def test_registered_host_beacon_type_may_be_anonymous() -> None:
    """A host beacon type registered before building can be named anonymous, and is then
    accepted without a login."""
    taxonomy.register_beacon_types("ui.signup.viewed")
    client = beacon_client(anonymous_event_types=["ui.signup.viewed"])
    with capture_events() as events:
        response = client.post(BEACON, json={"events": [item(event_type="ui.signup.viewed")]})
    assert response.json() == {"status": "ok", "accepted": 1}
    assert events.event_types == ["ui.signup.viewed"]
    assert events[0].actor_uid is None


@pytest.mark.parametrize("origin", ["*", "https://app.example.com/path", "app.example.com", ""])
def test_allowed_origins_must_be_plain_origins(origin: str) -> None:
    """Wildcards, paths and bare hosts are refused in allowed_origins."""
    with pytest.raises(BeaconConfigError):
        create_beacon_router(
            app_name="web",
            get_context=actor_from_header,
            allow_anonymous=True,
            allowed_origins=[origin],
        )


def test_auth_hook_of_three_parameters_is_refused() -> None:
    """require_auth must accept (request) or (request, body)."""

    def hook(_request: Request, _body: object, _extra: object) -> None:
        return None

    with pytest.raises(BeaconConfigError, match=r"\(request\) or \(request, body\)"):
        create_beacon_router(app_name="web", get_context=actor_from_header, require_auth=hook)


@pytest.mark.parametrize("hops", [-1, 33, True])
def test_proxy_hops_out_of_range_are_refused(hops: int) -> None:
    """trusted_proxy_hops is an integer from 0 to 32."""
    with pytest.raises(BeaconConfigError):
        create_beacon_router(
            app_name="web",
            get_context=actor_from_header,
            allow_anonymous=True,
            trusted_proxy_hops=hops,
        )


def test_seed_module_paths_are_importable() -> None:
    """The seed's import lines for the router and the request models keep working."""
    from il_audit.beacon_router import create_beacon_router as seed_router
    from il_audit.beacon_schemas import BeaconEventItem, BeaconRequest
    from il_audit.publisher.beacon import BeaconRequest as ours
    from il_audit.publisher.beacon.router import create_beacon_router as impl

    assert seed_router is impl
    assert BeaconRequest is ours
    assert BeaconRequest(events=[BeaconEventItem()]).events[0].event_type == "ui.tab.viewed"


@pytest.mark.subprocess
def test_beacon_package_works_without_fastapi() -> None:
    """Without FastAPI, schedule_beacon_rows imports and the router names the extra to install."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "sys.modules['fastapi'] = None\n"
        "from il_audit.publisher.beacon import schedule_beacon_rows, BeaconRequest\n"
        "try:\n"
        "    import il_audit.beacon_router\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'il-audit[beacon]'" in result.stdout
