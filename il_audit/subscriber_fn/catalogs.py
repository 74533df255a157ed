"""Where the pricing catalog comes from: the bundled seed, or the cost_rates table with a TTL.

With ``IL_COST_RATES_SOURCE=bigquery`` the table is read at most once per
``IL_COST_RATES_CACHE_SECONDS``. When it is empty, malformed or unreachable the
seed catalog prices instead, and the rows say so: their ``pricing_source`` is
``seed_catalog_fallback``. A failed read is retried after at most a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from il_audit.config.settings import AuditSettings, CostRatesSource
from il_audit.subscriber_fn.errors import CatalogError
from il_audit.subscriber_fn.pricing import (
    SEED_FALLBACK,
    PricingCatalog,
    catalog_from_rows,
    seed_catalog,
)

logger = logging.getLogger(__name__)

FALLBACK_RETRY_SECONDS: Final = 60.0


class CatalogProvider(Protocol):
    """Gives the catalog to price with right now."""

    def current(self) -> PricingCatalog:
        """The catalog in force (may be cached)."""
        ...


class SeedCatalogProvider:
    """Always the bundled seed catalog."""

    def current(self) -> PricingCatalog:
        """The seed catalog."""
        return seed_catalog()


def fallback_catalog() -> PricingCatalog:
    """The seed rates, labelled as a fallback."""
    seed = seed_catalog()
    return PricingCatalog(seed.rates, source=SEED_FALLBACK, version=seed.version)


class TableCatalogProvider:
    """Reads rows with ``read_rows`` (the sink's cost_rates) and caches the catalog."""

    def __init__(
        self,
        read_rows: Callable[[], list[dict[str, Any]]],
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        fallback_retry_seconds: float = FALLBACK_RETRY_SECONDS,
    ) -> None:
        self._read_rows = read_rows
        self._ttl = ttl_seconds
        self._clock = clock
        self._fallback_retry = fallback_retry_seconds
        self._lock = threading.Lock()
        self._catalog: PricingCatalog | None = None
        self._expires = float("-inf")

    def current(self) -> PricingCatalog:
        """The cached catalog, re-read from the table once the TTL has passed."""
        now = self._clock()
        catalog = self._catalog
        if catalog is not None and now < self._expires:
            return catalog
        with self._lock:
            if self._catalog is not None and now < self._expires:
                return self._catalog
            catalog, ttl = self._load()
            self._catalog, self._expires = catalog, now + ttl
            return catalog

    def _load(self) -> tuple[PricingCatalog, float]:
        retry = min(self._ttl, self._fallback_retry)
        try:
            rows = self._read_rows()
        except Exception as exc:  # noqa: BLE001 - any failure: price from the seed
            logger.warning("il-audit: cost_rates unreachable (%s); pricing from the seed", exc)
            return fallback_catalog(), retry
        if not rows:
            logger.warning("il-audit: cost_rates is empty; pricing from the seed catalog")
            return fallback_catalog(), retry
        try:
            catalog = catalog_from_rows(rows)
        except CatalogError as exc:
            logger.error("il-audit: cost_rates is malformed (%s); pricing from the seed", exc)
            return fallback_catalog(), retry
        logger.info("il-audit: loaded %d rate(s) from cost_rates", len(catalog))
        return catalog, self._ttl


def catalog_provider(
    settings: AuditSettings, read_rows: Callable[[], list[dict[str, Any]]]
) -> CatalogProvider:
    """The provider ``IL_COST_RATES_SOURCE`` asks for."""
    if settings.cost_rates_source is CostRatesSource.BIGQUERY:
        return TableCatalogProvider(read_rows, settings.cost_rates_cache_seconds)
    return SeedCatalogProvider()
