"""Module-level ``emit()`` and friends, forwarding to a lazily created default publisher.

Creating the default publisher is thread-safe (double-checked lock) and
fork-safe (the publisher resets itself in a child). Any error while creating
it is logged once and leaves auditing off, because ``emit()`` must never break
the host app; strict mode raises instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from il_audit.config.settings import AuditSettings, Transport, strict_requested
from il_audit.publisher.builders import BUILDERS, build_fields
from il_audit.publisher.client import (
    AuditPublisher,
    DropCallback,
    ErrorCallback,
    FlushResult,
    PublisherStats,
)
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import STANDARD_TIER

logger = logging.getLogger(__name__)

_client: AuditPublisher | None = None
_lock = threading.Lock()
_options: dict[str, Any] = {}

_SERVICE_CLOUD_RUN = "cloud_run"
_RATE_CPU_SECOND = "cpu_second"


def get_publisher() -> AuditPublisher:
    """The default publisher, created from the environment on first use."""
    client = _client
    if client is not None:
        return client
    return _create_default()


def _create_default() -> AuditPublisher:
    global _client
    with _lock:
        if _client is not None:
            return _client
        try:
            _client = AuditPublisher(**_options)
        except Exception:
            if _options.get("strict") or _strict_from_env():
                raise
            logger.exception("il-audit: cannot start the publisher; auditing is off")
            _client = AuditPublisher(AuditSettings.from_env({"IL_ENABLE_AUDIT_LOGS": "false"}))
        _log_destination(_client)
        return _client


def _strict_from_env() -> bool:
    return strict_requested()


def _log_destination(client: AuditPublisher) -> None:
    """One line saying where events go (a warning when auto chose the local file)."""
    settings = client.settings
    kind = client.transport_kind
    if kind == "pubsub":
        project = settings.project or (
            f"<the project google.auth.default() finds; {settings.managed_runtime} is set>"
        )
        where = f"Pub/Sub topic projects/{project}/topics/{settings.topic}"
    elif kind == "local":
        where = f"the embedded pipeline writing {settings.duckdb_path}"
        if settings.transport is Transport.AUTO:
            logger.warning(
                "il-audit: no GCP project found, so events go to %s "
                "(set GOOGLE_CLOUD_PROJECT to publish to Pub/Sub, IL_AUDIT_TRANSPORT to choose)",
                where,
            )
            return
    elif kind == "off":
        where = "nowhere (auditing is off)"
    else:
        where = f"the {kind} transport"
    if settings.spool_dir:
        where += f", spooling to {settings.spool_dir} when it cannot be reached"
    logger.info("il-audit: events go to %s", where)


def configure(
    *,
    settings: AuditSettings | None = None,
    on_error: ErrorCallback | None = None,
    on_drop: DropCallback | None = None,
    strict: bool | None = None,
    timeout: float | None = 5.0,
) -> AuditPublisher:
    """Replace the default publisher with one built from these options.

    The previous default is shut down (flushed for at most ``timeout``
    seconds). Returns the new default publisher.
    """
    global _client
    options: dict[str, Any] = {}
    if settings is not None:
        options["settings"] = settings
    if on_error is not None:
        options["on_error"] = on_error
    if on_drop is not None:
        options["on_drop"] = on_drop
    if strict is not None:
        options["strict"] = strict
    with _lock:
        previous, _client = _client, None
        _options.clear()
        _options.update(options)
    if previous is not None:
        previous.shutdown(timeout)
    return get_publisher()


def set_publisher(publisher: AuditPublisher | None) -> AuditPublisher | None:
    """Install ``publisher`` as the default (``None``: rebuild lazily); returns the old one.

    The old one is not shut down; that is the caller's decision.
    """
    global _client
    with _lock:
        previous, _client = _client, publisher
    return previous


def emit(event_type: str, *, context: AuditContext | None = None, **fields: Any) -> str | None:
    """Record one audit event; returns its ``event_id`` (``None`` when auditing is off).

    Costs microseconds and never raises into the caller (unless strict).
    ``context`` defaults to the one bound with ``audit_context()``. Envelope
    fields (``status``, ``action``, ``resource_id``, ``metadata``...) go to
    the top level; any other keyword goes into ``payload``.
    """
    client = _client
    if client is None:
        client = get_publisher()
    if BUILDERS and isinstance(event_type, str) and event_type in BUILDERS:
        fields = build_fields(BUILDERS[event_type], event_type, context, fields)
    return client.submit(event_type, context, fields)


def emit_api_usage(
    *,
    context: AuditContext | None = None,
    correlation_id: str | None = None,
    correlation_type: str | None = None,
    service: str,
    operation: str,
    model_id: str,
    category: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    tokens_estimated: bool = False,
    latency_ms: float | None = None,
    pricing_tier: str | None = "standard",
    metadata: Mapping[str, Any] | None = None,
    **fields: Any,
) -> str | None:
    """Record a billable API call (``cost.api.usage``) with its token counts.

    The subscriber prices it from the cost catalog at ``pricing_tier``
    (``standard`` or ``batch``; blank is standard, and a tier the catalog has
    no rate for is priced at standard); the publisher never prices.
    Negative token counts are clamped to 0, as the seed library did.
    """
    item = {
        "service": service,
        "operation": operation,
        "model_id": model_id,
        "category": category,
        "input_tokens": _clamped(input_tokens),
        "output_tokens": _clamped(output_tokens),
        "tokens_estimated": tokens_estimated,
        "latency_ms": latency_ms,
        "pricing_tier": _tier(pricing_tier),
    }
    if metadata is not None:
        fields.setdefault("metadata", _copied(metadata))
    fields["usage"] = [{key: value for key, value in item.items() if value is not None}]
    fields.setdefault("correlation_id", correlation_id)
    fields.setdefault("correlation_type", correlation_type)
    fields.setdefault("action", operation)
    return emit(T.API_USAGE_RECORDED, context=context, **fields)


def _clamped(tokens: Any) -> Any:
    """A negative count as 0 (the seed's rule); a value of another type as given (invalid)."""
    return max(0, tokens) if type(tokens) is int else tokens


def _tier(tier: Any) -> Any:
    """A tier name normalised (blank: standard); a value of another type as given (invalid)."""
    if tier is None or isinstance(tier, str):
        return (tier or "").strip().lower() or STANDARD_TIER
    return tier


def _copied(metadata: Any) -> Any:
    """A mapping copied into a dict; anything else as given, which makes the event invalid."""
    return dict(metadata) if isinstance(metadata, Mapping) else metadata


def emit_resource_usage(
    *,
    context: AuditContext | None = None,
    correlation_id: str | None = None,
    correlation_type: str | None = None,
    resource_type: str,
    quantity: float,
    unit: str,
    metadata: Mapping[str, Any] | None = None,
    service: str = _SERVICE_CLOUD_RUN,
    model_id: str = _RATE_CPU_SECOND,
    **fields: Any,
) -> str | None:
    """Record unit-priced infrastructure usage (``cost.resource.usage``): CPU, storage...

    ``(service, model_id)`` selects the unit price in the catalog.
    """
    fields["usage"] = [
        {
            "service": service,
            "model_id": model_id,
            "category": resource_type,
            "quantity": quantity,
            "unit": unit,
        }
    ]
    fields.setdefault("correlation_id", correlation_id)
    fields.setdefault("correlation_type", correlation_type)
    fields.setdefault("resource_type", resource_type)
    if metadata is not None:
        fields.setdefault("metadata", _copied(metadata))
    return emit(T.RESOURCE_USAGE_RECORDED, context=context, **fields)


def emit_batch(
    events: Iterable[tuple[str, AuditContext | None, Mapping[str, Any] | None, Mapping[str, Any]]],
) -> list[str | None]:
    """Emit many events; each item is ``(event_type, context, metadata, fields)`` (seed API)."""
    ids = []
    for event_type, context, metadata, fields in events:
        extra = dict(fields)
        if metadata is not None:
            extra["metadata"] = _copied(metadata)
        ids.append(emit(event_type, context=context, **extra))
    return ids


def flush_audit_writer(
    timeout: float | None = 5.0, *, timeout_seconds: float | None = None
) -> FlushResult:
    """Wait until everything emitted so far is published, at most ``timeout`` seconds.

    Returns an ``int`` as 0.1.3 did: the events settled (published, or given
    up on and counted) during this call; 0 with an empty queue is success. A
    timeout returns what settled before it. Whether *everything* is out is
    ``.complete`` on the result (or ``stats().pending == 0``): False after a
    timeout, a failure or any drop since the previous flush (``.dropped``
    counts them), and then the result's truth value is False too.
    ``timeout_seconds`` is the seed library's spelling of ``timeout``.
    Serverless callers (Cloud Run jobs, Cloud Functions) should call this
    before returning, since the instance may be frozen right after.
    """
    client = _client
    if client is None:
        return FlushResult(0, complete=True)
    return client.flush(timeout_seconds if timeout_seconds is not None else timeout)


def shutdown(timeout: float | None = 5.0) -> bool:
    """Flush and stop the default publisher; a later ``emit()`` starts a new one."""
    global _client
    with _lock:
        client, _client = _client, None
    if client is None:
        return True
    return client.shutdown(timeout)


def stats() -> PublisherStats:
    """Counters of the default publisher (accepted, published, dropped, failed, ...)."""
    return get_publisher().stats()


def reset_for_tests(timeout: float | None = 0) -> None:
    """Shut the default publisher down and forget options (test isolation)."""
    shutdown(timeout)
    with _lock:
        _options.clear()
