"""Secrets in page paths: matrix parameters are dropped, and ``redact_path`` rewrites the rest."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from il_audit.beacon_router import create_beacon_router
from il_audit.publisher.beacon import BeaconConfigError
from il_audit.publisher.testing import capture_events
from tests.support.beacon import actor_from_header, beacon_client, item

RESET = re.compile(r"^/reset-password/[^/]+")


def redact_reset_token(path: str) -> str:
    """The beacon doc's example hook: the reset token in the path is replaced."""
    return RESET.sub("/reset-password/:token", path)


def _page_path(body: dict[str, Any], headers: dict[str, str], **options: Any) -> Any:
    client = beacon_client(**options)
    with capture_events() as events:
        response = client.post("/api/audit/beacon", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert events[0].payload is not None
    return events[0].payload.get("page_path")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"events": [item(path="/app;jsessionid=S3CR3T/files;v=2")]}, {}),
        ({"events": [item()]}, {"X-IL-Audit-Path": "/app;jsessionid=S3CR3T/files;v=2"}),
        ({"events": [item()]}, {"Referer": "https://h.test/app;jsessionid=S3CR3T/files;v=2?q"}),
    ],
    ids=["item-path", "audit-path-header", "referer"],
)
def test_matrix_parameters_are_dropped(body: dict[str, Any], headers: dict[str, str]) -> None:
    """Everything from a ``;`` to the end of its segment is gone, wherever the path came from."""
    assert _page_path(body, headers) == "/app/files"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"events": [item(path="/reset-password/tok-123")]}, {}),
        ({"events": [item()]}, {"X-IL-Audit-Path": "/reset-password/tok-123"}),
        ({"events": [item()]}, {"Referer": "https://h.test/reset-password/tok-123"}),
    ],
    ids=["item-path", "audit-path-header", "referer"],
)
def test_redact_path_rewrites_every_page_path(
    body: dict[str, Any], headers: dict[str, str]
) -> None:
    """The hook sees the item's path and the header or Referer path alike."""
    path = _page_path(body, headers, redact_path=redact_reset_token)
    assert path == "/reset-password/:token"


def test_failing_redact_path_leaves_the_path_out(caplog: pytest.LogCaptureFixture) -> None:
    """A hook that raises stores no page path (never the unredacted one) and logs its type."""

    def broken(_path: str) -> str:
        raise RuntimeError("tok-123")

    with caplog.at_level(logging.DEBUG, logger="il_audit.publisher.beacon"):
        path = _page_path(
            {"events": [item(path="/reset-password/tok-123")]}, {}, redact_path=broken
        )
    assert path is None
    assert "RuntimeError" in caplog.text
    assert "tok-123" not in caplog.text


def test_redact_path_must_be_callable() -> None:
    """A redact_path that cannot be called is refused when the router is built."""
    with pytest.raises(BeaconConfigError, match="redact_path"):
        create_beacon_router(
            app_name="web",
            get_context=actor_from_header,
            allow_anonymous=True,
            redact_path="/reset-password/:token",  # type: ignore[arg-type]
        )
