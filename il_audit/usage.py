"""1.0.35's ``il_audit.usage``: category routing and in-process cost estimates (seed path)."""

from il_audit.chat.token_mapping import resolve_chat_api_usage_fields
from il_audit.subscriber_fn.estimates import estimate_token_bucket_api_cost_usd
from il_audit.subscriber_fn.usage_routes import (
    ApiUsageFields,
    CategoryRoute,
    default_pricing_tier_for,
    register_category_route,
    resolve_api_usage_fields,
    resolve_ingest_api_usage_fields,
)

__all__ = [
    "ApiUsageFields",
    "CategoryRoute",
    "default_pricing_tier_for",
    "estimate_token_bucket_api_cost_usd",
    "register_category_route",
    "resolve_api_usage_fields",
    "resolve_chat_api_usage_fields",
    "resolve_ingest_api_usage_fields",
]
