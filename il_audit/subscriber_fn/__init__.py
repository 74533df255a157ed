"""The subscriber: the Cloud Function (and embedded pipeline) that validates, prices and stores.

``core`` is pure (message in, rows and rejects out); ``pipeline`` adds the I/O;
``main.handle_pubsub`` is the Cloud Function entry point.
"""

from il_audit.subscriber_fn.catalogs import (
    CatalogProvider,
    SeedCatalogProvider,
    TableCatalogProvider,
)
from il_audit.subscriber_fn.core import (
    ErrorClass,
    MessageMeta,
    ProcessResult,
    Reject,
    process_message,
)
from il_audit.subscriber_fn.errors import (
    DeadLetterPublishError,
    SinkUnavailableError,
    SubscriberError,
    TransientError,
)
from il_audit.subscriber_fn.pipeline import Outcome, Pipeline, build_pipeline
from il_audit.subscriber_fn.pricing import PricingCatalog, Rate, price_usage, seed_catalog

__all__ = [
    "CatalogProvider",
    "DeadLetterPublishError",
    "ErrorClass",
    "MessageMeta",
    "Outcome",
    "Pipeline",
    "PricingCatalog",
    "ProcessResult",
    "Rate",
    "Reject",
    "SeedCatalogProvider",
    "SinkUnavailableError",
    "SubscriberError",
    "TableCatalogProvider",
    "TransientError",
    "build_pipeline",
    "price_usage",
    "process_message",
    "seed_catalog",
]
