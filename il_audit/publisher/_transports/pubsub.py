"""Publishing to Google Cloud Pub/Sub (or its emulator): one ``Publish`` RPC per message.

The publisher needs one RPC, so it needs neither google-cloud-pubsub's
client nor its batcher, and does not import them (``google.cloud.pubsub_v1``
costs ~7 MiB of memory in every app process, for nothing it uses). Our
messages are already packed (up to 500 events each); the batcher's work (a
proto-plus object per message, a batch object, a commit thread per request,
its own retries) only cost CPU and memory: measured in one run, its peak RSS
grew 44 MiB with 50 messages of 90 KB in flight. The channel is built as that
client builds its own (:func:`publisher_channel`): towards
``PUBSUB_EMULATOR_HOST`` an insecure channel, as the client does; towards
Google ``google.api_core.grpc_helpers.create_channel`` with the application
default credentials, Pub/Sub's OAuth scopes and the client's channel options.
The ``PublishRequest`` is written as protobuf bytes with the message's data
copied once (:func:`publish_request`) and sent as a future on that channel.
Failures come back as ``google.api_core`` exceptions, and the publisher's
loop retries them without limit.
"""

from __future__ import annotations

import functools
import logging
import netrc  # noqa: F401 - see _WARM_IMPORTS (requests reads ~/.netrc on first use)
import os
import shlex  # noqa: F401
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Final

import google.auth
import google.auth._default
import google.auth.compute_engine
import google.auth.compute_engine._metadata
import google.auth.compute_engine.credentials
import google.auth.transport.requests
import google.oauth2.credentials
import grpc
import grpc._channel
import grpc._interceptor
from google.api_core import exceptions as core_exceptions
from google.api_core import grpc_helpers
from google.api_core.gapic_v1 import routing_header

from il_audit.config.runtime import PROJECT_VARIABLES_HINT, ProjectResolver, google_auth_project
from il_audit.config.settings import AuditSettings
from il_audit.publisher._transports.base import PublishFuture
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher.errors import TransportUnavailableError

logger = logging.getLogger(__name__)

# _WARM_IMPORTS: creating a PublisherClient, and google.auth.default() asking the
# metadata server for the project, import these lazily. Both run off the caller's
# thread; a fork() in the middle of an import there would leave the child a
# half-initialised module (and, in CPython, fork hooks registered mid-fork), so
# this module, which the caller's thread imports when the publisher is built,
# imports them up front.

_PUBLISH_METHOD: Final = "/google.pubsub.v1.Publisher/Publish"
_GET_TOPIC_METHOD: Final = "/google.pubsub.v1.Publisher/GetTopic"
MISSING_TOPIC_MESSAGE: Final = (
    "il-audit: the Pub/Sub topic %s does not exist, so every event this app publishes fails. "
    "Provision it with `il-audit infra apply` and deploy the subscriber before upgrading "
    "hosts (docs/migrating.md: Upgrading to 2.0)"
)
PUBSUB_HOST: Final = "pubsub.googleapis.com"
AUTH_SCOPES: Final = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/pubsub",
)
"""Pub/Sub's OAuth scopes, as google-cloud-pubsub asks for them."""
CHANNEL_OPTIONS: Final = (
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_metadata_size", 4 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30000),
)
"""google-cloud-pubsub's options for its production channel."""
_RPC_TIMEOUT_SECONDS: Final = 10.0
"""A publish not answered by then fails as DeadlineExceeded and is retried by the publisher."""


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
            transport = PubSubTransport(project, topic)
        else:
            assert resolver is not None
            lookup = resolver.resolve()
            if not lookup.project:
                raise TransportUnavailableError(missing_project_message(settings, lookup.problem))
            transport = PubSubTransport(lookup.project, topic)
        transport.check_topic()
        return transport

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


def publisher_channel() -> grpc.Channel:
    """A channel to Pub/Sub: insecure towards ``PUBSUB_EMULATOR_HOST``, else authorized.

    Built as google-cloud-pubsub builds its own: the emulator gets a plain
    ``grpc.insecure_channel``; Google gets ``grpc_helpers.create_channel`` with
    the application default credentials (``google.auth.default()``), Pub/Sub's
    scopes, TLS and the client's channel options.
    """
    emulator = os.environ.get("PUBSUB_EMULATOR_HOST")
    if emulator:
        return grpc.insecure_channel(emulator)
    return grpc_helpers.create_channel(
        f"{PUBSUB_HOST}:443",
        default_scopes=AUTH_SCOPES,
        default_host=PUBSUB_HOST,
        options=list(CHANNEL_OPTIONS),
    )


class PubSubTransport:
    """Publishes to ``projects/{project}/topics/{topic}``; honours ``PUBSUB_EMULATOR_HOST``."""

    name = "pubsub"

    def __init__(self, project: str, topic: str, *, channel: grpc.Channel | None = None) -> None:
        self._channel = channel if channel is not None else publisher_channel()
        self.project = project
        self.topic_path: str = f"projects/{project}/topics/{topic}"
        self._topic = self.topic_path.encode("utf-8")
        # request_serializer=None: the request is already protobuf bytes.
        self._rpc = self._channel.unary_unary(_PUBLISH_METHOD, request_serializer=None)
        self._metadata = (routing_header.to_grpc_metadata((("topic", self.topic_path),)),)  # type: ignore[no-untyped-call]
        self._missing_lock = threading.Lock()
        self._missing_reported = False

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> PublishFuture:
        """Start the ``Publish`` RPC of one message; the future gives its message id."""
        call = self._rpc.future(
            publish_request(self._topic, data, attributes),
            timeout=_RPC_TIMEOUT_SECONDS,
            metadata=self._metadata,
        )
        future: PublishFuture = Future()
        call.add_done_callback(functools.partial(_settle, future, self.report_missing_topic))
        return future

    def check_topic(self) -> None:
        """Ask Pub/Sub whether the topic exists (``GetTopic``) without waiting for the answer.

        A missing topic is reported (:meth:`report_missing_topic`) from gRPC's
        thread. Any other answer says nothing: apps usually hold only
        ``roles/pubsub.publisher``, which may not read the topic; a publish to a
        missing topic reports it then.
        """
        rpc = self._channel.unary_unary(_GET_TOPIC_METHOD, request_serializer=None)
        request = b"\x0a" + _varint(len(self._topic)) + self._topic  # GetTopicRequest.topic = 1
        call = rpc.future(request, timeout=_RPC_TIMEOUT_SECONDS, metadata=self._metadata)
        call.add_done_callback(self._topic_checked)

    def _topic_checked(self, call: grpc.Future) -> None:
        try:
            call.result()
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                self.report_missing_topic()
        except Exception:  # a check only: publishing reports real failures
            logger.debug("il-audit: checking the topic failed", exc_info=True)

    def report_missing_topic(self) -> None:
        """Log, once per transport, that the topic does not exist and how to provision it."""
        with self._missing_lock:
            if self._missing_reported:
                return
            self._missing_reported = True
        logger.error(MISSING_TOPIC_MESSAGE, self.topic_path)

    def close(self, timeout: float | None) -> None:
        """Close the channel (the publisher waits for its own RPCs before closing)."""
        del timeout  # nothing is batched here: there is nothing to send on close
        try:
            self._channel.close()
        except Exception:  # closing must never raise into shutdown paths
            logger.warning("il-audit: error while closing the Pub/Sub channel", exc_info=True)


def _settle(future: PublishFuture, topic_missing: Callable[[], None], call: grpc.Future) -> None:
    """Runs on gRPC's thread: the RPC's outcome, as the client library would report it."""
    try:
        response: bytes = call.result()
    except grpc.RpcError as error:
        exception = core_exceptions.from_grpc_error(error)  # type: ignore[no-untyped-call]
        if isinstance(exception, core_exceptions.NotFound):
            topic_missing()
        future.set_exception(exception)
    except Exception as error:  # noqa: BLE001 - cancelled, or anything else: that publish failed
        future.set_exception(error)
    else:
        future.set_result(first_message_id(response))


def publish_request(topic: bytes, data: bytes, attributes: Mapping[str, str]) -> bytes:
    """A ``google.pubsub.v1.PublishRequest`` of one message, as protobuf bytes.

    ``PublishRequest {string topic = 1; repeated PubsubMessage messages = 2}`` and
    ``PubsubMessage {bytes data = 1; map<string, string> attributes = 2}`` (a map
    entry is ``{string key = 1; string value = 2}``). Written by hand so that the
    data is copied once, into the request.
    """
    entries = []
    for key, value in attributes.items():
        key_bytes, value_bytes = key.encode("utf-8"), value.encode("utf-8")
        entry = b"".join(
            (b"\x0a", _varint(len(key_bytes)), key_bytes, b"\x12", _varint(len(value_bytes)),
             value_bytes)
        )  # fmt: skip
        entries.append(b"\x12" + _varint(len(entry)) + entry)
    attributes_part = b"".join(entries)
    message_size = 1 + len(_varint(len(data))) + len(data) + len(attributes_part)
    return b"".join(
        (b"\x0a", _varint(len(topic)), topic, b"\x12", _varint(message_size),
         b"\x0a", _varint(len(data)), data, attributes_part)
    )  # fmt: skip


def first_message_id(response: bytes) -> str:
    """The first ``message_ids`` entry of a ``PublishResponse`` (``repeated string = 1``)."""
    if not response or response[0] != 0x0A:
        return ""
    length, start = _read_varint(response, 1)
    return response[start : start + length].decode("utf-8", "replace")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while position < len(data):
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return value, position
