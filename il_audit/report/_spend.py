"""The cost section: per day by app and by model, with the unpriced share."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from il_audit.report._model import (
    Chart,
    Column,
    Figure,
    Period,
    Section,
    Series,
    Table,
    Unit,
)
from il_audit.report._queries import (
    COST_BY_APP,
    COST_BY_MODEL,
)
from il_audit.report._section_common import period_params
from il_audit.report._values import (
    as_day,
    as_int,
    as_money,
    day_range,
    empty,
    pivot,
    replace_section,
    share,
)
from il_audit.report._warehouse import Warehouse


def cost_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Cost per day by app and by model, and the unpriced share."""
    params = period_params(period)
    by_app = warehouse.query(COST_BY_APP, params)
    by_model = warehouse.query(COST_BY_MODEL, params)
    if not by_app and not by_model:
        return empty(base, "No events with usage in this period.")
    app_cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with_usage: dict[str, int] = defaultdict(int)
    unpriced: dict[str, int] = defaultdict(int)
    partial: dict[str, int] = defaultdict(int)
    for row in by_app:
        day = as_day(row["day"]).isoformat()
        app_cost[(day, row["app"])] += as_money(row["cost_usd"])
        with_usage[day] += as_int(row["events_with_usage"])
        unpriced[day] += as_int(row["unpriced_events"])
        partial[day] += as_int(row["partially_priced_events"])
    model_cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    models: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), 0])
    for row in by_model:
        key = (row["service"] or "(none)", row["model_id"] or "(none)")
        model_cost[(as_day(row["day"]).isoformat(), f"{key[0]} / {key[1]}")] += as_money(
            row["cost_usd"]
        )
        totals = models[key]
        totals[0] += as_int(row["items"])
        totals[1] += as_money(row["cost_usd"])
        totals[2] += as_int(row["unpriced_items"])
    categories = day_range([as_day(row["day"]) for row in (*by_app, *by_model)])
    events_with_usage = sum(with_usage.values())
    items = sum(totals[0] for totals in models.values())
    unpriced_items = sum(totals[2] for totals in models.values())
    model_rows = sorted(models.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    return replace_section(
        base,
        figures=(
            Figure("Total cost", sum(app_cost.values(), Decimal(0)), Unit.USD, "cost_total"),
            Figure("Events with usage", events_with_usage, key="events_with_usage"),
            Figure(
                "Unpriced share of those events",
                share(sum(unpriced.values()), events_with_usage),
                Unit.SHARE,
                "unpriced_event_share",
            ),
            Figure("Partially priced events", sum(partial.values()), key="partially_priced"),
            Figure("Unpriced usage items", unpriced_items, key="unpriced_items"),
            Figure(
                "Unpriced share of usage items",
                share(unpriced_items, items),
                Unit.SHARE,
                "unpriced_item_share",
            ),
        ),
        charts=(
            Chart(
                "cost_by_app",
                "Cost per day, by app (USD)",
                "bars",
                Unit.USD,
                "day",
                categories,
                pivot(app_cost, categories, zero=Decimal(0)),
                "No priced usage in this period.",
            ),
            Chart(
                "cost_by_model",
                "Cost per day, by service / model (USD)",
                "bars",
                Unit.USD,
                "day",
                categories,
                pivot(model_cost, categories, zero=Decimal(0)),
                "No priced usage in this period.",
            ),
            Chart(
                "unpriced_share",
                "Unpriced share of the events with usage, per day",
                "lines",
                Unit.SHARE,
                "day",
                categories,
                (
                    Series(
                        "unpriced", tuple(share(unpriced[d], with_usage[d]) for d in categories)
                    ),
                    Series(
                        "partially priced",
                        tuple(share(partial[d], with_usage[d]) for d in categories),
                    ),
                ),
                "Every event with usage was priced.",
            ),
        ),
        tables=(
            Table(
                "cost_models",
                "Usage items per service and model over the period",
                (
                    Column("service"),
                    Column("model"),
                    Column("items", Unit.COUNT),
                    Column("cost", Unit.USD),
                    Column("unpriced items", Unit.COUNT),
                    Column("unpriced share", Unit.SHARE),
                ),
                tuple(
                    (service, model, t[0], t[1], t[2], share(t[2], t[0]))
                    for (service, model), t in model_rows
                ),
            ),
        ),
    )
