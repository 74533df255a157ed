"""Seed path (0.1.3, 1.0.35): rows are published as events (:mod:`il_audit.publisher.seed_writer`);
cost specs in :mod:`il_audit.schemas.cost_specs`, estimates in ``subscriber_fn.estimates``."""

from il_audit.publisher.seed_writer import schedule_row, schedule_rows
from il_audit.schemas.cost_specs import ApiCostSpec, UnitCostSpec, WriteQueueItem
from il_audit.subscriber_fn.estimates import finalize_write_item

__all__ = [
    "ApiCostSpec",
    "UnitCostSpec",
    "WriteQueueItem",
    "finalize_write_item",
    "schedule_row",
    "schedule_rows",
]
