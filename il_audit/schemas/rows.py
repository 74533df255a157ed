"""Rows the subscriber writes: events (envelope plus pricing and delivery), dead letters, rates.

These models are the single definition of the warehouse tables: ``tables.py``
derives the BigQuery schemas from them, the DuckDB sink derives its DDL from
those schemas, and nothing spells a column list twice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from il_audit.schemas.envelope import (
    STANDARD_TIER,
    Envelope,
    JsonObject,
    Label,
    Name,
    PricingTier,
    UsageItem,
)

MAX_ERROR_DETAIL_CHARS: Final = 4096
MAX_RAW_LINE_CHARS: Final = 1_048_576

Money = Annotated[Decimal, Field(max_digits=38, decimal_places=9)]
"""BigQuery NUMERIC: 38 digits, 9 after the point. Money is never a float."""


class PricingStatus(StrEnum):
    """How much of an event's usage the catalog could price."""

    PRICED = "priced"
    PARTIALLY_PRICED = "partially_priced"
    UNPRICED = "unpriced"


class PricingSource(StrEnum):
    """Which catalog priced an event (``pricing_source`` column)."""

    SEED_CATALOG = "seed_catalog"
    BIGQUERY_CATALOG = "bigquery_catalog"


class PricedUsageItem(UsageItem):
    """A usage item as stored: the envelope's item plus its cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cost_usd: Money | None = Field(default=None, description="Cost of this item; null if unpriced.")
    rate_tier: PricingTier | None = Field(
        default=None,
        description="Tier of the rate that priced it: differs from pricing_tier when the "
        "catalog had no rate for that tier and the standard rate was used; null if unpriced.",
    )
    cache_priced_as_input: bool | None = Field(
        default=None,
        description="True when the item's cached or cache-write tokens were priced at the "
        "input price because the rate has no price of their own; null otherwise.",
    )


class EventRow(Envelope):
    """One row of the ``events`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usage: list[PricedUsageItem] = Field(  # type: ignore[assignment]  # rows carry priced items
        default_factory=list, description="Metered items, priced."
    )
    ingested_at: AwareDatetime = Field(description="When the subscriber processed it.")
    publish_time: AwareDatetime | None = Field(default=None, description="Pub/Sub publish time.")
    message_id: Label | None = Field(default=None, description="Pub/Sub message id.")
    delivery_attempt: int | None = Field(default=None, description="Pub/Sub delivery attempt.")
    cost_usd: Money | None = Field(default=None, description="Total cost of the priced items.")
    pricing_source: Label | None = Field(
        default=None, description="seed_catalog or bigquery_catalog."
    )
    rate_version: Label | None = Field(default=None, description="Catalog version that priced it.")
    pricing_status: Label | None = Field(
        default=None, description="priced, partially_priced or unpriced; null without usage."
    )
    unknown_fields: list[Name] = Field(
        default_factory=list,
        description="Top-level fields this subscriber did not know (kept in payload).",
    )
    row_salt: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = Field(
        default=None,
        description="Random salt hashed into row_hash (32 hex); NULL once the row is erased.",
    )
    row_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        default=None,
        description="SHA-256 of the row's canonical form, written at ingestion "
        "(docs/integrity.md); null in rows written before it.",
    )
    erased_by: Label | None = Field(
        default=None, description="erasure_id of the il-audit erase that last changed this row."
    )


class DeadLetterRow(BaseModel):
    """One row of the ``dead_letters`` table: a line the subscriber could not accept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dead_letter_id: Label = Field(
        description="message_id:line_index (stable across redeliveries; the insertId)."
    )
    received_at: AwareDatetime = Field(description="When the subscriber rejected it.")
    error_class: Name = Field(description="Why, as a stable class, e.g. schema_violation.")
    error_detail: Annotated[str, StringConstraints(max_length=MAX_ERROR_DETAIL_CHARS)] = Field(
        description="Why, for humans (never the payload)."
    )
    message_id: Label | None = Field(default=None, description="Pub/Sub message id.")
    publish_time: AwareDatetime | None = Field(default=None, description="Pub/Sub publish time.")
    delivery_attempt: int | None = Field(default=None, description="Pub/Sub delivery attempt.")
    line_index: int | None = Field(
        default=None, description="0-based line of the message; null when the whole message failed."
    )
    event_id: Label | None = Field(default=None, description="event_id, when readable.")
    app: Label | None = Field(default=None, description="app, when readable.")
    event_type: Label | None = Field(default=None, description="event_type, when readable.")
    raw_line: Annotated[str, StringConstraints(max_length=MAX_RAW_LINE_CHARS)] | None = Field(
        default=None, description="The rejected line as text (invalid UTF-8 escaped)."
    )
    raw_truncated: bool = Field(default=False, description="raw_line was cut to fit.")
    raw_sha256: Label | None = Field(default=None, description="SHA-256 of the rejected bytes.")
    attributes: JsonObject | None = Field(default=None, description="The message's attributes.")
    raw_bytes: int | None = Field(
        default=None,
        description="Size in bytes of the rejected data before any cut (null in rows written "
        "before this column).",
    )
    row_salt: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = Field(
        default=None,
        description="Random salt hashed into row_hash (32 hex); NULL once the row is erased.",
    )
    row_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        default=None,
        description="SHA-256 of the row's canonical form, written at ingestion "
        "(docs/integrity.md); null in rows written before it.",
    )
    erased_by: Label | None = Field(
        default=None, description="erasure_id of the il-audit erase that last changed this row."
    )


class CostRateRow(BaseModel):
    """One row of the ``cost_rates`` table: a price in force from ``effective_from``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: Name = Field(description="Billable service, e.g. vertex_gemini.")
    model_id: Name = Field(description="Model id or resource rate key, e.g. cpu_second.")
    pricing_tier: PricingTier | None = Field(
        default=STANDARD_TIER,
        description="Pricing tier, e.g. standard or batch (null in 0.1.3 rows: standard).",
    )
    effective_from: date = Field(description="First day (UTC) this rate applies.")
    input_price_per_1m_tokens: Money | None = Field(
        default=None, description="USD per 1M input tokens."
    )
    output_price_per_1m_tokens: Money | None = Field(
        default=None, description="USD per 1M output tokens."
    )
    unit_price: Money | None = Field(default=None, description="USD per unit of quantity.")
    unit: Label | None = Field(default=None, description="Unit the unit_price is per.")
    rate_version: Label | None = Field(default=None, description="Catalog version label.")
    source_url: Annotated[str, StringConstraints(max_length=2048)] | None = Field(
        default=None, description="Where the price was read."
    )
    loaded_at: AwareDatetime | None = Field(default=None, description="When it was loaded.")
    cached_input_price_per_1m_tokens: Money | None = Field(
        default=None,
        description="USD per 1M input tokens read from a cache; null: priced as input.",
    )
    cache_write_price_per_1m_tokens: Money | None = Field(
        default=None,
        description="USD per 1M input tokens written to a cache; null: priced as input.",
    )
