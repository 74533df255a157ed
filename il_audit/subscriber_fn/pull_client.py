"""Pub/Sub subscriber clients that can receive what il-audit publishes (pull worker, dlq tools).

Towards the emulator (``PUBSUB_EMULATOR_HOST``), google-cloud-pubsub builds its
own insecure channel with gRPC's default 4 MiB receive limit, while its
production channel lifts that limit. One pull response of a few 500-event
messages (or of large dead letters) is bigger than 4 MiB: the stream breaks,
the messages come back, and break it again. :func:`subscriber_client` gives
the emulator a channel without the limit; towards Google it changes nothing.
The pull worker and the dead-letter tools use it.
"""

from __future__ import annotations

import os

from google.cloud import pubsub_v1  # type: ignore[attr-defined]

_UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def subscriber_client() -> pubsub_v1.SubscriberClient:
    """A ``SubscriberClient``; towards ``PUBSUB_EMULATOR_HOST``, one without the 4 MiB limit."""
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        return pubsub_v1.SubscriberClient()
    import grpc
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    channel = grpc.insecure_channel(host, options=_UNLIMITED)
    return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
