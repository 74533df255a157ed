"""Seed path (0.1.3, 1.0.35): in-process cost *estimates* from the bundled catalog, which
live in :mod:`il_audit.subscriber_fn.estimates`; the price of record is the subscriber's."""

from il_audit.subscriber_fn.estimates import (
    estimate_api_cost_usd,
    estimate_token_bucket_api_cost_usd,
    estimate_unit_cost_usd,
)

__all__ = ["estimate_api_cost_usd", "estimate_token_bucket_api_cost_usd", "estimate_unit_cost_usd"]
