"""One measurement of one client library, in a fresh process; prints one JSON line.

    python benchmarks/_client_run.py LIBRARY MODE COUNT --sink URL --topic TOPIC

LIBRARY is ``il-audit`` (module-level ``emit``), ``segment`` (module-level
``analytics.track``), ``posthog`` (module-level ``capture``) or ``pubsub`` (a
direct ``PublisherClient.publish`` of the event as one JSON message). il-audit
and ``pubsub`` publish to the Pub/Sub emulator (``PUBSUB_EMULATOR_HOST``), the
peers post to the HTTP sink. Every client is configured with its defaults
except where it delivers and a queue bound above COUNT, so that nothing is
dropped (a dropped event would make a call look cheaper than it is).

MODE ``caller``: after a warm-up, COUNT calls in a tight loop, each timed on the
calling thread with ``perf_counter_ns``; then a flush, and a check that every
event arrived. Prints p50/p99/p99.9 in µs.

MODE ``sustained``: after a warm-up, COUNT calls as fast as possible, then a
flush; events/s from the first call until the flush confirms delivery, process
CPU seconds (every thread: ``getrusage``) over the same span, and the
process's RSS after the warm-up and its peak (``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import APP, EVENT_NAME, EVENT_TYPE, PROJECT, PROPERTIES, USER_ID

WARM_UP = 200


def status_mib(key: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MiB (``ru_maxrss`` would survive exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sink_events(url: str) -> int:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as answer:
        stats = json.load(answer)
    return int(sum(stats["events"].values()))


def sink_reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


class Client:
    """``send()`` one event; ``timed(n)`` n calls, each timed; ``flush()``; ``delivered()``."""

    send: Callable[[], Any]

    def timed(self, count: int) -> list[int]:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def delivered(self) -> int:
        raise NotImplementedError


class IlAudit(Client):
    def __init__(self, args: argparse.Namespace) -> None:
        # Configured the way apps configure it: through the environment.
        os.environ.update(
            {
                "IL_AUDIT_TRANSPORT": "pubsub",
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "IL_AUDIT_TOPIC": args.topic,
                "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": str(args.count + WARM_UP + 1000),
                "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
                # Delivery is counted exactly: no heartbeat events.
                "IL_AUDIT_HEARTBEAT_SECONDS": "0",
            }
        )
        create_topic(args.topic)
        import il_audit

        self.il_audit = il_audit
        self.context = il_audit.AuditContext(app=APP, actor_uid=USER_ID)
        emit, context = il_audit.emit, self.context
        self.send = lambda: emit(EVENT_TYPE, context=context, **PROPERTIES)

    def timed(self, count: int) -> list[int]:
        emit, context, properties = self.il_audit.emit, self.context, PROPERTIES
        clock = time.perf_counter_ns
        samples = [0] * count
        for index in range(count):
            start = clock()
            emit(EVENT_TYPE, context=context, **properties)
            samples[index] = clock() - start
        return samples

    def flush(self) -> None:
        if not self.il_audit.flush_audit_writer(timeout=900).complete:
            raise RuntimeError(f"il-audit flush failed: {self.il_audit.stats()}")

    def delivered(self) -> int:
        stats = self.il_audit.stats()
        if stats.dropped or stats.failed or stats.invalid:
            raise RuntimeError(f"il-audit lost or refused events: {stats}")
        return int(stats.published)


class Segment(Client):
    def __init__(self, args: argparse.Namespace) -> None:
        from segment import analytics

        analytics.write_key = "bench-write-key"
        analytics.host = args.sink
        analytics.max_queue_size = args.count + WARM_UP + 1000
        self.analytics = analytics
        self.sink = args.sink
        sink_reset(args.sink)
        track = analytics.track
        self.send = lambda: track(USER_ID, EVENT_NAME, PROPERTIES)

    def timed(self, count: int) -> list[int]:
        track, properties = self.analytics.track, PROPERTIES
        clock = time.perf_counter_ns
        samples = [0] * count
        for index in range(count):
            start = clock()
            track(USER_ID, EVENT_NAME, properties)
            samples[index] = clock() - start
        return samples

    def flush(self) -> None:
        self.analytics.flush()

    def delivered(self) -> int:
        return sink_events(self.sink)


class PostHog(Client):
    def __init__(self, args: argparse.Namespace) -> None:
        import posthog

        # The module-level capture() proxies to default_client; the module has no
        # queue-size setting, so the default client is built here with the same defaults.
        posthog.default_client = posthog.Posthog(
            "phc_bench", host=args.sink, max_queue_size=args.count + WARM_UP + 1000
        )
        self.posthog = posthog
        self.sink = args.sink
        sink_reset(args.sink)
        capture = posthog.capture
        self.send = lambda: capture(EVENT_NAME, distinct_id=USER_ID, properties=PROPERTIES)

    def timed(self, count: int) -> list[int]:
        capture, properties = self.posthog.capture, PROPERTIES
        clock = time.perf_counter_ns
        samples = [0] * count
        for index in range(count):
            start = clock()
            capture(EVENT_NAME, distinct_id=USER_ID, properties=properties)
            samples[index] = clock() - start
        return samples

    def flush(self) -> None:
        self.posthog.flush(timeout_seconds=None)

    def delivered(self) -> int:
        return sink_events(self.sink)


class DirectPubSub(Client):
    """What an app publishing each event itself does: serialize, then ``publish()``."""

    def __init__(self, args: argparse.Namespace) -> None:
        from google.cloud import pubsub_v1

        create_topic(args.topic)
        self.client = pubsub_v1.PublisherClient()
        self.topic = self.client.topic_path(PROJECT, args.topic)
        self.futures: list[Any] = []
        self.send = self._send

    def _send(self) -> None:
        self.futures.append(self.client.publish(self.topic, _direct_message(), app=APP))

    def timed(self, count: int) -> list[int]:
        publish, topic, futures = self.client.publish, self.topic, self.futures
        clock = time.perf_counter_ns
        samples = [0] * count
        for index in range(count):
            start = clock()
            futures.append(publish(topic, _direct_message(), app=APP))
            samples[index] = clock() - start
        return samples

    def flush(self) -> None:
        for future in self.futures:
            future.result(timeout=900)

    def delivered(self) -> int:
        return sum(1 for future in self.futures if future.done() and not future.exception())


def _direct_message() -> bytes:
    event = {
        "event_type": EVENT_TYPE,
        "occurred_at": time.time(),
        "app": APP,
        "actor_uid": USER_ID,
        "payload": PROPERTIES,
    }
    return json.dumps(event, separators=(",", ":")).encode()


def create_topic(name: str) -> None:
    """Create the topic through the emulator's REST API (409 if it exists is fine).

    Not with google-cloud-pubsub: importing it costs ~7 MiB, and il-audit's process
    (the one measured) never imports it, as an app's would not.
    """
    host = os.environ["PUBSUB_EMULATOR_HOST"]
    url = f"http://{host}/v1/projects/{PROJECT}/topics/{name}"
    request = urllib.request.Request(url, data=b"{}", method="PUT")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30):
            pass
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise


CLIENTS: dict[str, Callable[[argparse.Namespace], Client]] = {
    "il-audit": IlAudit,
    "segment": Segment,
    "posthog": PostHog,
    "pubsub": DirectPubSub,
}


def percentiles_us(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[index] / 1000

    return {"p50_us": at(0.50), "p99_us": at(0.99), "p999_us": at(0.999)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", choices=sorted(CLIENTS))
    parser.add_argument("mode", choices=["caller", "sustained"])
    parser.add_argument("count", type=int)
    parser.add_argument("--sink", default="")
    parser.add_argument("--topic", default="bench")
    args = parser.parse_args()

    client = CLIENTS[args.library](args)
    for _ in range(WARM_UP):
        client.send()
    client.flush()
    expected = WARM_UP + args.count
    result: dict[str, Any] = {"library": args.library, "mode": args.mode, "count": args.count}
    if args.mode == "caller":
        samples = client.timed(args.count)
        client.flush()
        result.update(percentiles_us(samples))
    else:
        send = client.send
        baseline = status_mib("VmRSS")
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        for _ in range(args.count):
            send()
        accepted = time.perf_counter()
        client.flush()
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_start
        result.update(
            events_per_s=args.count / elapsed,
            accept_per_s=args.count / (accepted - start),
            cpu_s_per_1000=cpu / args.count * 1000,
            rss_baseline_mib=baseline,
            rss_peak_mib=status_mib("VmHWM"),
        )
    delivered = client.delivered()
    if delivered != expected:
        raise RuntimeError(f"{args.library}: {delivered} events delivered, {expected} expected")
    result["delivered"] = delivered
    print(json.dumps(result), flush=True)
    os._exit(0)  # no exit hooks: every client has flushed, and their shutdowns are not measured


if __name__ == "__main__":
    main()
