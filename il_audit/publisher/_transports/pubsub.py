"""Publishing to Google Cloud Pub/Sub (or its emulator) with the official client.

The client already batches messages into requests and retries transient
errors for a while; we keep its batches small in time (our own packing is the
real batching) and cap its retry so that long outages come back to the
publisher's loop, where they are counted and retried without limit.
"""

from __future__ import annotations

import logging
import netrc  # noqa: F401 - see _WARM_IMPORTS (requests reads ~/.netrc on first use)
import shlex  # noqa: F401
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

import google.auth
import google.auth._default
import google.auth.compute_engine
import google.auth.compute_engine._metadata
import google.auth.compute_engine.credentials
import google.auth.transport.requests
import google.oauth2.credentials
import grpc._channel
import grpc._interceptor  # noqa: F401
from google.api_core import retry as api_retry
from google.api_core.timeout import ConstantTimeout
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from il_audit.config.runtime import PROJECT_VARIABLES_HINT, ProjectResolver, google_auth_project
from il_audit.config.settings import AuditSettings
from il_audit.publisher._transports.base import PublishFuture
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher.errors import TransportUnavailableError
from il_audit.retrying import is_retryable

logger = logging.getLogger(__name__)

# _WARM_IMPORTS: creating a PublisherClient, and google.auth.default() asking the
# metadata server for the project, import these lazily. Both run off the caller's
# thread; a fork() in the middle of an import there would leave the child a
# half-initialised module (and, in CPython, fork hooks registered mid-fork), so
# this module, which the caller's thread imports when the publisher is built,
# imports them up front.

# Requests are capped at 10 MB by Pub/Sub; leave room for attributes and framing.
_MAX_REQUEST_BYTES: Final = 7_000_000
# The client starts a commit thread per request batch; 20 ms lets one request
# carry several of our (already packed) messages under load, which measured
# 10-25% more events/s than 5 ms, for at most 20 ms more latency.
_CLIENT_MAX_LATENCY_SECONDS: Final = 0.02
_CLIENT_RETRY_DEADLINE_SECONDS: Final = 20.0
_RPC_TIMEOUT_SECONDS: Final = 10.0


PROJECT_LOOKUP_TIMEOUT_SECONDS: Final = 2.0
"""How long the publisher's thread waits for one project lookup (it retries with backoff)."""


def project_resolver() -> ProjectResolver:
    """Finds the project through ``google.auth.default()`` (the metadata server on Google)."""
    _ = (google.auth._default, google.auth.compute_engine.credentials)  # warm, see above
    return ProjectResolver(google_auth_project, timeout=PROJECT_LOOKUP_TIMEOUT_SECONDS)


def make_factory(settings: AuditSettings) -> Callable[[], TransportProtocol]:
    """The ``pubsub`` entry point: a constructor for the settings' project and topic.

    Without a project variable (a managed runtime), the project is looked up
    through ``google.auth.default()`` by the constructor, on the publisher's
    thread, bounded in time; only a success is kept.
    """
    project, topic = settings.project, settings.topic
    resolver = None if project else project_resolver()

    def pubsub() -> TransportProtocol:
        if project:
            return PubSubTransport(project, topic)
        assert resolver is not None
        lookup = resolver.resolve()
        if not lookup.project:
            raise TransportUnavailableError(missing_project_message(settings, lookup.problem))
        return PubSubTransport(lookup.project, topic)

    return pubsub


def missing_project_message(settings: AuditSettings, problem: str | None) -> str:
    """Why Pub/Sub has no project, naming the variable that would fix it."""
    where = (
        f"on a managed runtime ({settings.managed_runtime} is set)"
        if settings.managed_runtime
        else "here"
    )
    return (
        f"no GCP project {where}: set {PROJECT_VARIABLES_HINT}; "
        f"{problem or 'google.auth.default() found none'}"
    )


class PubSubTransport:
    """Publishes to ``projects/{project}/topics/{topic}``; honours ``PUBSUB_EMULATOR_HOST``."""

    name = "pubsub"

    def __init__(self, project: str, topic: str, *, client: Any | None = None) -> None:
        self._client = client if client is not None else self._make_client()
        self.topic_path: str = self._client.topic_path(project, topic)

    @staticmethod
    def _make_client() -> Any:
        batch = pubsub_v1.types.BatchSettings(
            max_bytes=_MAX_REQUEST_BYTES,
            max_latency=_CLIENT_MAX_LATENCY_SECONDS,
            max_messages=1000,
        )
        retry = api_retry.Retry(
            predicate=is_retryable,
            initial=0.1,
            maximum=5.0,
            multiplier=2.0,
            timeout=_CLIENT_RETRY_DEADLINE_SECONDS,
        )
        options = pubsub_v1.types.PublisherOptions(
            retry=retry,
            timeout=ConstantTimeout(_RPC_TIMEOUT_SECONDS),  # type: ignore[no-untyped-call]
        )
        return pubsub_v1.PublisherClient(batch_settings=batch, publisher_options=options)

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> PublishFuture:
        """Hand one message to the client's batcher."""
        future: PublishFuture = self._client.publish(self.topic_path, data, **attributes)
        return future

    def close(self, timeout: float | None) -> None:
        """Send what the client still batches, waiting at most ``timeout`` seconds.

        ``PublisherClient.stop()`` blocks until its batches are committed, which
        during an outage takes up to the client's retry deadline; it runs on a
        daemon thread so that shutdown keeps its own deadline.
        """
        stopper = threading.Thread(target=self._stop, name="il-audit-pubsub-stop", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            logger.warning("il-audit: the Pub/Sub client did not stop within %.1fs", timeout or 0)

    def _stop(self) -> None:
        try:
            self._client.stop()
        except RuntimeError:
            pass  # already stopped
        except Exception:  # closing must never raise into shutdown paths
            logger.warning("il-audit: error while stopping the Pub/Sub client", exc_info=True)
