"""Which service, operation, model and pricing tier an app's usage category is billed as.

1.0.35's category routing (``il_audit.usage``): an app names a call by its
category (``answer``, ``embedding``, ``vision``...) and the route says how the
subscriber will price it: ``service`` and ``model_id`` select the rate,
``pricing_tier`` its tier. Ingest's Gemini calls run through the batch API, so
their categories default to the ``batch`` tier; chat's calls are online
(``standard``). Routes live in the process; a host adds its own with
:func:`register_category_route`.

Routing only chooses the identifiers an event carries; the price is still the
subscriber's, at ingestion, from its catalog.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

from il_audit.config import cost_catalog as C

APP_CHAT: Final = "chat"
APP_INGEST: Final = "ingest"
GEMINI_FALLBACK: Final = "__gemini__"
"""The ingest route of a category no route names: a Gemini call."""


@dataclass(frozen=True, slots=True)
class ApiUsageFields:
    """What one call is recorded as: the keywords of ``emit_api_usage``."""

    service: str
    operation: str
    model_id: str
    category: str
    correlation_type: str
    pricing_tier: str = C.PRICING_TIER_STANDARD


@dataclass(frozen=True, slots=True)
class CategoryRoute:
    """How an app's category is billed; ``fallback_model_id`` serves calls that name none."""

    service: str
    operation: str
    correlation_type: str
    default_pricing_tier: str = C.PRICING_TIER_STANDARD
    fallback_model_id: str | None = None
    audit_category: str | None = None
    """The category recorded, when it differs from the app's name for it."""


def _builtin() -> dict[tuple[str, str], CategoryRoute]:
    chat_gemini = CategoryRoute(
        C.SERVICE_VERTEX_GEMINI, C.OPERATION_GENERATE_CONTENT, C.CORRELATION_CHAT_TURN,
        fallback_model_id="gemini-2.5-flash-lite",
    )  # fmt: skip
    ingest_gemini = CategoryRoute(
        C.SERVICE_VERTEX_GEMINI, C.OPERATION_GENERATE_CONTENT, C.CORRELATION_INGEST_JOB,
        default_pricing_tier=C.PRICING_TIER_BATCH,
    )  # fmt: skip
    routes = {
        (APP_CHAT, category): chat_gemini
        for category in (C.API_CATEGORY_ANSWER, C.API_CATEGORY_FORMAT_PREFERENCE,
                         C.API_CATEGORY_CONTEXTUALIZER)
    }  # fmt: skip
    routes[(APP_CHAT, C.API_CATEGORY_EMBEDDING)] = CategoryRoute(
        C.SERVICE_VERTEX_EMBEDDING, C.OPERATION_EMBED_CONTENT, C.CORRELATION_CHAT_TURN,
        fallback_model_id="gemini-embedding-001",
    )  # fmt: skip
    # 1.0.35's fallback, kept as it was: the tracker records it without "@latest", the
    # catalog's key (semantic-ranker-default).
    routes[(APP_CHAT, C.API_CATEGORY_RERANK)] = CategoryRoute(
        C.SERVICE_VERTEX_RERANK, C.OPERATION_SEMANTIC_RANKER, C.CORRELATION_CHAT_TURN,
        fallback_model_id="semantic-ranker-default@latest",
    )  # fmt: skip
    for category in (C.API_CATEGORY_VISION, C.API_CATEGORY_TAGGING, C.API_CATEGORY_SUMMARY,
                     "deck_summary", "section_summary", GEMINI_FALLBACK):  # fmt: skip
        routes[(APP_INGEST, category)] = ingest_gemini
    routes[(APP_INGEST, C.API_CATEGORY_EMBEDDING)] = CategoryRoute(
        C.SERVICE_VERTEX_EMBEDDING, C.OPERATION_EMBED_CONTENT, C.CORRELATION_INGEST_JOB
    )
    return routes


_routes: Final = _builtin()
_lock: Final = threading.Lock()


def _key(app: str, category: str) -> tuple[str, str]:
    return app.strip().lower(), category.strip().lower()


def register_category_route(app: str, category: str, route: CategoryRoute) -> None:
    """Route ``category`` of ``app`` (both matched lower-cased and stripped); replaces any."""
    with _lock:
        _routes[_key(app, category)] = route


def _route(app: str, category: str) -> CategoryRoute | None:
    app_key, category_key = _key(app, category)
    with _lock:
        found = _routes.get((app_key, category_key))
        return found if found is not None else _routes.get((app_key, GEMINI_FALLBACK))


def default_pricing_tier_for(app: str, category: str) -> str:
    """The tier ``category`` of ``app`` is billed at by default (``standard`` without a route)."""
    route = _route(app, category)
    return route.default_pricing_tier if route is not None else C.PRICING_TIER_STANDARD


def resolve_api_usage_fields(
    *,
    app: str,
    category: str,
    model_id: str | None = None,
    embedding_model_id: str | None = None,
    rerank_model_id: str | None = None,
    pricing_tier: str | None = None,
    operation: str | None = None,
) -> ApiUsageFields:
    """The fields one call of ``category`` is recorded with, from its route.

    The model is the first non-blank of ``model_id``, ``embedding_model_id``,
    ``rerank_model_id`` and the route's fallback; ``operation`` and
    ``pricing_tier`` override the route's. Raises ``ValueError`` when the app
    has no route for the category or no model can be found.
    """
    route = _route(app, category)
    if route is None:
        raise ValueError(f"no usage route for app {app!r}, category {category!r}")
    candidates = (model_id, embedding_model_id, rerank_model_id, route.fallback_model_id)
    model = next((name.strip() for name in candidates if name and name.strip()), None)
    if model is None:
        raise ValueError(f"no model id for app {app!r}, category {category!r}: pass model_id")
    return ApiUsageFields(
        service=route.service,
        operation=(operation or "").strip() or route.operation,
        model_id=model,
        category=route.audit_category or category.strip(),
        correlation_type=route.correlation_type,
        pricing_tier=(pricing_tier or "").strip().lower() or route.default_pricing_tier,
    )


def resolve_ingest_api_usage_fields(
    *,
    category: str,
    model_id: str,
    pricing_tier: str | None = None,
    operation: str | None = None,
) -> ApiUsageFields:
    """:func:`resolve_api_usage_fields` for the ingest app; ``model_id`` is required
    (``ValueError`` when blank): ingest routes have no fallback model."""
    if not (model_id or "").strip():
        raise ValueError("model_id is required for an ingest call")
    return resolve_api_usage_fields(
        app=APP_INGEST,
        category=category,
        model_id=model_id,
        pricing_tier=pricing_tier,
        operation=operation,
    )
