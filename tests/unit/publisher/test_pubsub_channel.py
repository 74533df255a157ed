"""The Pub/Sub transport builds its own channel, as google-cloud-pubsub would, without it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials

from il_audit.publisher._transports import pubsub


def test_towards_google_the_channel_has_pubsubs_scopes_and_default_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without PUBSUB_EMULATOR_HOST: application default credentials with Pub/Sub's scopes."""
    asked: dict[str, Any] = {}

    def default(**kwargs: Any) -> tuple[AnonymousCredentials, str]:
        asked.update(kwargs)
        return AnonymousCredentials(), "a-project"

    monkeypatch.setattr("google.auth.default", default)
    channel = pubsub.publisher_channel()
    try:
        assert isinstance(channel, grpc.Channel)
        assert tuple(asked["default_scopes"]) == pubsub.AUTH_SCOPES
    finally:
        channel.close()


def test_towards_the_emulator_the_channel_needs_no_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PUBSUB_EMULATOR_HOST gives an insecure channel; google.auth is never asked."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")

    def default(**_kwargs: Any) -> None:
        raise AssertionError("credentials were looked up for the emulator")

    monkeypatch.setattr("google.auth.default", default)
    transport = pubsub.PubSubTransport("p", "t")
    assert transport.topic_path == "projects/p/topics/t"
    transport.close(0)


def test_an_app_that_emits_never_imports_google_cloud_pubsub() -> None:
    """google.cloud.pubsub_v1 (~7 MiB) stays out of an app's process, transport built."""
    script = (
        "import os, sys, time\n"
        "os.environ.update(IL_AUDIT_TRANSPORT='pubsub', GOOGLE_CLOUD_PROJECT='p',\n"
        "                  PUBSUB_EMULATOR_HOST='127.0.0.1:9')\n"
        "import il_audit\n"
        "from il_audit import publisher\n"
        "il_audit.emit('auth.logout', context=il_audit.AuditContext(app='a'))\n"
        "deadline = time.monotonic() + 20\n"
        "while publisher.get_publisher().transport is None and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print(publisher.get_publisher().transport is not None,\n"
        "      'google.cloud.pubsub_v1' in sys.modules)\n"
        "publisher.shutdown(0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["True", "False"], result.stderr
