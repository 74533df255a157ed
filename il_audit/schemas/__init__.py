"""The envelope model, the event taxonomy and the warehouse table specs.

Pure: no Google Cloud imports, so publishers, the subscriber and the CLI share it.
"""

from il_audit.schemas import taxonomy, wire
from il_audit.schemas.envelope import (
    ENVELOPE_FIELDS,
    MAX_ENVELOPE_BYTES,
    Envelope,
    IncomingEnvelope,
    Source,
    UsageItem,
    envelope_json,
    parse_envelope,
)
from il_audit.schemas.errors import EnvelopeTooLargeError
from il_audit.schemas.rows import (
    CostRateRow,
    DeadLetterRow,
    EventRow,
    PricedUsageItem,
    PricingSource,
    PricingStatus,
)
from il_audit.schemas.tables import COST_RATES, DEAD_LETTERS, EVENTS, TABLES, ColumnSpec, TableSpec
from il_audit.schemas.wire import SCHEMA_VERSION, PubSubLayout

__all__ = [
    "COST_RATES",
    "DEAD_LETTERS",
    "ENVELOPE_FIELDS",
    "EVENTS",
    "MAX_ENVELOPE_BYTES",
    "SCHEMA_VERSION",
    "TABLES",
    "ColumnSpec",
    "CostRateRow",
    "DeadLetterRow",
    "Envelope",
    "EnvelopeTooLargeError",
    "EventRow",
    "IncomingEnvelope",
    "PricedUsageItem",
    "PricingSource",
    "PricingStatus",
    "PubSubLayout",
    "Source",
    "TableSpec",
    "UsageItem",
    "envelope_json",
    "parse_envelope",
    "taxonomy",
    "wire",
]
