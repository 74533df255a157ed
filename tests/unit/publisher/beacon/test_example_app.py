"""examples/beacon_app answers only to its own host names (the DNS-rebinding advice)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from il_audit.publisher.testing import capture_events
from tests.support.beacon import beacon_client

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "beacon_app" / "app.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    """The example's module, loaded from its file as uvicorn --app-dir would."""
    spec = importlib.util.spec_from_file_location("beacon_example_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_rebound_host_name_is_refused(example: ModuleType) -> None:
    """A request naming another host (a rebinding page's) gets 400 before any route."""
    client = TestClient(example.create_app(), base_url="http://attacker.example")
    response = client.post(
        "/api/audit/beacon",
        json={"events": [{"event_type": "ui.tab.viewed"}]},
        headers={"Origin": "http://attacker.example"},
    )
    assert response.status_code == 400


def test_its_own_host_is_served(example: ModuleType) -> None:
    """The page is served to 127.0.0.1, the host the beacon doc and the browser tests use."""
    client = TestClient(example.create_app(), base_url="http://127.0.0.1:8000")
    assert client.get("/").status_code == 200


def test_without_the_middleware_a_rebound_host_passes_the_origin_check() -> None:
    """The router alone compares Origin with Host, and a rebinding page controls both."""
    client = beacon_client()
    with capture_events() as events:
        response = client.post(
            "/api/audit/beacon",
            json={"events": [{"event_type": "ui.tab.viewed"}]},
            headers={"Host": "attacker.example", "Origin": "http://attacker.example"},
        )
    assert response.status_code == 200
    assert len(events) == 1
