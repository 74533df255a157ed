"""The report's sections: the rows of their queries (``_queries``) turned into figures,
charts and tables.

Aggregation that would need engine-specific SQL (top-N with ties and NULLs,
lists of distinct apps) is done here in Python on small grouped results, so
both engines give the same page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from il_audit.report._charts import OTHER
from il_audit.report._model import (
    Chart,
    Column,
    Figure,
    Number,
    Period,
    Section,
    Series,
    Table,
    Unit,
)
from il_audit.report._queries import (
    ACTIVE_USERS_ALL_APPS,
    ACTIVE_USERS_BY_APP,
    ACTIVE_USERS_PERIOD,
    AUTH_FAILURES,
    CHAT_LATENCY_HISTOGRAM,
    CHAT_LATENCY_SUMMARY,
    COST_BY_APP,
    COST_BY_MODEL,
    DEAD_LETTERS,
    EVENTS_PER_DAY,
    PIPELINE_DELAY,
    latency_buckets,
)
from il_audit.report._warehouse import QueryFailedError, Warehouse

MAX_SERIES: Final = 8
"""Series per chart; the smallest of the rest are folded into ``(other)``."""
TOP_ROWS: Final = 10
"""Rows of the top-N tables (actors with failed logins, dead-letter reasons)."""
DETAIL_CHARS: Final = 240


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _hour(value: Any) -> str:
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _money(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def day_range(days: Iterable[date]) -> tuple[str, ...]:
    """Every day from the first to the last given (gaps filled), as ISO strings."""
    present = sorted(set(days))
    if not present:
        return ()
    count = (present[-1] - present[0]).days + 1
    return tuple((present[0] + timedelta(days=offset)).isoformat() for offset in range(count))


def pivot(
    cells: Mapping[tuple[str, str], Number],
    categories: Sequence[str],
    *,
    zero: Number = 0,
    limit: int = MAX_SERIES,
    order: Sequence[str] | None = None,
) -> tuple[Series, ...]:
    """Series from ``(category, series) -> value``; the largest ``limit - 1`` series by total
    keep their names when there are more than ``limit``, the rest add up to ``(other)``."""
    totals: dict[str, Any] = defaultdict(lambda: zero)
    for (_, name), value in cells.items():
        totals[name] += value
    names = list(order) if order is not None else sorted(totals, key=lambda n: (-totals[n], n))
    kept, folded = (names, []) if len(names) <= limit else (names[: limit - 1], names[limit - 1 :])
    series = [
        Series(name, tuple(cells.get((category, name), zero) for category in categories))
        for name in kept
    ]
    if folded:
        series.append(
            Series(
                OTHER,
                tuple(
                    sum((cells.get((category, name), zero) for name in folded), zero)
                    for category in categories
                ),
            )
        )
    return tuple(series)


def _period_params(period: Period) -> dict[str, date]:
    return {"since": period.since, "until": period.until}


def events_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Events per day, by app."""
    rows = warehouse.query(EVENTS_PER_DAY, _period_params(period))
    if not rows:
        return _empty(base, "No events in this period.")
    cells: dict[tuple[str, str], Number] = defaultdict(int)
    for row in rows:
        cells[(_day(row["day"]).isoformat(), row["app"])] += _int(row["events"])
    categories = day_range(_day(row["day"]) for row in rows)
    total = sum(int(value) for value in cells.values())
    return _replace(
        base,
        figures=(
            Figure("Events", total, key="events_total"),
            Figure("Apps", len({app for _, app in cells}), key="apps"),
        ),
        charts=(
            Chart(
                "events_per_day",
                "Events per day, by app",
                "bars",
                Unit.COUNT,
                "day",
                categories,
                pivot(cells, categories),
            ),
        ),
    )


def users_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Distinct actors per day, per app and across apps."""
    params = _period_params(period)
    by_app = warehouse.query(ACTIVE_USERS_BY_APP, params)
    if not by_app:
        return _empty(base, "No events with an actor in this period.")
    all_apps = warehouse.query(ACTIVE_USERS_ALL_APPS, params)
    period_rows = warehouse.query(ACTIVE_USERS_PERIOD, params)
    cells: dict[tuple[str, str], Number] = {}
    for row in by_app:
        cells[(_day(row["day"]).isoformat(), row["app"])] = _int(row["active_users"])
    daily = {_day(row["day"]).isoformat(): _int(row["active_users"]) for row in all_apps}
    categories = day_range([_day(row["day"]) for row in by_app])
    series = (
        Series("all apps", tuple(daily.get(day, 0) for day in categories)),
        *pivot(cells, categories, limit=MAX_SERIES - 1),
    )
    return _replace(
        base,
        figures=(
            Figure(
                "Distinct users in the period",
                _int(period_rows[0]["users"]) if period_rows else 0,
                key="users_total",
            ),
            Figure("Most in one day", max(daily.values(), default=0), key="users_peak_day"),
        ),
        charts=(
            Chart(
                "active_users",
                "Active users per day",
                "lines",
                Unit.COUNT,
                "day",
                categories,
                series,
            ),
        ),
    )


def cost_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Cost per day by app and by model, and the unpriced share."""
    params = _period_params(period)
    by_app = warehouse.query(COST_BY_APP, params)
    by_model = warehouse.query(COST_BY_MODEL, params)
    if not by_app and not by_model:
        return _empty(base, "No events with usage in this period.")
    app_cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with_usage: dict[str, int] = defaultdict(int)
    unpriced: dict[str, int] = defaultdict(int)
    partial: dict[str, int] = defaultdict(int)
    for row in by_app:
        day = _day(row["day"]).isoformat()
        app_cost[(day, row["app"])] += _money(row["cost_usd"])
        with_usage[day] += _int(row["events_with_usage"])
        unpriced[day] += _int(row["unpriced_events"])
        partial[day] += _int(row["partially_priced_events"])
    model_cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    models: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), 0])
    for row in by_model:
        key = (row["service"] or "(none)", row["model_id"] or "(none)")
        model_cost[(_day(row["day"]).isoformat(), f"{key[0]} / {key[1]}")] += _money(
            row["cost_usd"]
        )
        totals = models[key]
        totals[0] += _int(row["items"])
        totals[1] += _money(row["cost_usd"])
        totals[2] += _int(row["unpriced_items"])
    categories = day_range([_day(row["day"]) for row in (*by_app, *by_model)])
    events_with_usage = sum(with_usage.values())
    items = sum(totals[0] for totals in models.values())
    unpriced_items = sum(totals[2] for totals in models.values())
    model_rows = sorted(models.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    return _replace(
        base,
        figures=(
            Figure("Total cost", sum(app_cost.values(), Decimal(0)), Unit.USD, "cost_total"),
            Figure("Events with usage", events_with_usage, key="events_with_usage"),
            Figure(
                "Unpriced share of those events",
                _share(sum(unpriced.values()), events_with_usage),
                Unit.SHARE,
                "unpriced_event_share",
            ),
            Figure("Partially priced events", sum(partial.values()), key="partially_priced"),
            Figure("Unpriced usage items", unpriced_items, key="unpriced_items"),
            Figure(
                "Unpriced share of usage items",
                _share(unpriced_items, items),
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
                        "unpriced", tuple(_share(unpriced[d], with_usage[d]) for d in categories)
                    ),
                    Series(
                        "partially priced",
                        tuple(_share(partial[d], with_usage[d]) for d in categories),
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
                    (service, model, t[0], t[1], t[2], _share(t[2], t[0]))
                    for (service, model), t in model_rows
                ),
            ),
        ),
    )


def auth_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Failed logins per day by app, and the actors who failed most."""
    rows = warehouse.query(AUTH_FAILURES, _period_params(period))
    if not rows:
        return _empty(base, "No failed logins in this period.")
    cells: dict[tuple[str, str], Number] = defaultdict(int)
    actors: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, 0, None])
    for row in rows:
        cells[(_day(row["day"]).isoformat(), row["app"])] += _int(row["failed_logins"])
        key = (row["app"], row["actor_email"] or "", row["actor_uid"] or "")
        totals = actors[key]
        totals[0] += _int(row["failed_logins"])
        totals[1] += _int(row["successful_logins"])
        if row["last_failure_at"] is not None and (
            totals[2] is None or row["last_failure_at"] > totals[2]
        ):
            totals[2] = row["last_failure_at"]
    categories = day_range(_day(row["day"]) for row in rows)
    top = sorted(actors.items(), key=lambda item: (-item[1][0], item[0]))[:TOP_ROWS]
    return _replace(
        base,
        figures=(
            Figure("Failed logins", sum(int(v) for v in cells.values()), key="failed_logins"),
            Figure("Actors with a failure", len(actors), key="failing_actors"),
        ),
        charts=(
            Chart(
                "auth_failures",
                "Failed logins per day, by app",
                "bars",
                Unit.COUNT,
                "day",
                categories,
                pivot(cells, categories),
            ),
        ),
        tables=(
            Table(
                "auth_actors",
                f"Actors with the most failed logins (top {TOP_ROWS})",
                (
                    Column("app"),
                    Column("actor email"),
                    Column("actor uid"),
                    Column("failed", Unit.COUNT),
                    Column("succeeded", Unit.COUNT),
                    Column("last failure"),
                ),
                tuple(
                    (app, email or "—", uid or "—", t[0], t[1], _timestamp(t[2]))
                    for (app, email, uid), t in top
                ),
            ),
        ),
    )


def dead_letters_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """The most frequent dead-letter reasons, with the apps and a sample detail."""
    rows = warehouse.query(DEAD_LETTERS, _period_params(period))
    if not rows:
        return _empty(base, "Nothing was dead-lettered in this period.")
    reasons: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = reasons.setdefault(
            row["error_class"], {"count": 0, "apps": set(), "last": None, "sample": None}
        )
        entry["count"] += _int(row["dead_letters"])
        entry["apps"].add(row["app"] or "(unknown)")
        if row["last_seen"] is not None and (
            entry["last"] is None or row["last_seen"] > entry["last"]
        ):
            entry["last"] = row["last_seen"]
            entry["sample"] = row["sample_detail"]
        elif entry["sample"] is None:
            entry["sample"] = row["sample_detail"]
    top = sorted(reasons.items(), key=lambda item: (-item[1]["count"], item[0]))[:TOP_ROWS]
    categories = tuple(name for name, _ in top)
    return _replace(
        base,
        figures=(
            Figure("Dead letters", sum(e["count"] for e in reasons.values()), key="dead_letters"),
            Figure("Reasons", len(reasons), key="reasons"),
        ),
        charts=(
            Chart(
                "dead_letter_reasons",
                f"Dead letters by reason (top {TOP_ROWS})",
                "hbars",
                Unit.COUNT,
                "reason",
                categories,
                (Series("dead letters", tuple(e["count"] for _, e in top)),),
            ),
        ),
        tables=(
            Table(
                "dead_letter_samples",
                "Reasons, apps and a sample detail",
                (
                    Column("reason"),
                    Column("dead letters", Unit.COUNT),
                    Column("apps"),
                    Column("last seen"),
                    Column("sample detail"),
                ),
                tuple(
                    (
                        name,
                        e["count"],
                        ", ".join(sorted(e["apps"])),
                        _timestamp(e["last"]),
                        _cut(e["sample"]),
                    )
                    for name, e in top
                ),
            ),
        ),
    )


def chat_latency_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """The distribution of chat turn latency, by outcome, with its quantiles."""
    params = _period_params(period)
    summary = warehouse.query(CHAT_LATENCY_SUMMARY, params)
    numbers = summary[0] if summary else {}
    turns = _int(numbers.get("turns"))
    without = _int(numbers.get("without_latency"))
    if turns - without <= 0:
        note = "No chat turns with a latency in this period."
        if turns:
            note += f" {turns:,} chat turn(s) carried no latency_ms_total or latency_ms."
        return _empty(base, note)
    histogram = warehouse.query(CHAT_LATENCY_HISTOGRAM, params)
    labels = latency_buckets()
    cells: dict[tuple[str, str], Number] = defaultdict(int)
    for row in histogram:
        outcome = "failed" if row["event_type"] == "chat.turn.failed" else "succeeded"
        cells[(labels[_int(row["bucket"])], outcome)] += _int(row["turns"])
    return _replace(
        base,
        figures=(
            Figure("Turns with a latency", turns - without, key="chat_turns"),
            Figure("p50", _float(numbers.get("p50_ms")), Unit.MILLISECONDS, "chat_p50_ms"),
            Figure("p90", _float(numbers.get("p90_ms")), Unit.MILLISECONDS, "chat_p90_ms"),
            Figure("p99", _float(numbers.get("p99_ms")), Unit.MILLISECONDS, "chat_p99_ms"),
            Figure("Turns without a latency", without, key="chat_turns_without_latency"),
        ),
        charts=(
            Chart(
                "chat_latency",
                "Chat turns by latency",
                "bars",
                Unit.COUNT,
                "latency",
                labels,
                pivot(cells, labels, order=("succeeded", "failed")),
            ),
        ),
    )


def pipeline_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """p50 and p99 delay from occurred_at to ingested_at, per hour of processing."""
    rows = warehouse.query(PIPELINE_DELAY, _period_params(period))
    if not rows:
        return _empty(base, "Nothing was processed in this period.")
    ordered = sorted(rows, key=lambda row: _hour(row["hour"]))
    categories = tuple(_hour(row["hour"]) for row in ordered)
    p50 = tuple(_float(row["p50_delay_seconds"]) for row in ordered)
    p99 = tuple(_float(row["p99_delay_seconds"]) for row in ordered)
    return _replace(
        base,
        figures=(
            Figure(
                "Events accepted",
                sum(_int(r["accepted_events"]) for r in rows),
                key="accepted_events",
            ),
            Figure(
                "Lines dead-lettered",
                sum(_int(r["dead_lettered"]) for r in rows),
                key="dead_lettered",
            ),
            Figure(
                "Highest hourly p50",
                max((v for v in p50 if v is not None), default=None),
                Unit.SECONDS,
                "max_p50_seconds",
            ),
            Figure(
                "Highest hourly p99",
                max((v for v in p99 if v is not None), default=None),
                Unit.SECONDS,
                "max_p99_seconds",
            ),
        ),
        charts=(
            Chart(
                "pipeline_delay",
                "Delay per hour of processing",
                "lines",
                Unit.SECONDS,
                "hour (UTC)",
                categories,
                (Series("p50", p50), Series("p99", p99)),
                "No accepted events in this period (only dead letters).",
            ),
        ),
    )


Builder = Callable[[Warehouse, Period, Section], Section]

SECTIONS: Final[tuple[tuple[Section, Builder], ...]] = (
    (
        Section(
            "events",
            "Events per day",
            "How many events each app recorded per day (UTC), each event counted once.",
        ),
        events_section,
    ),
    (
        Section(
            "users",
            "Active users",
            "How many distinct people (actor_uid) were active per day, in each app and in all.",
        ),
        users_section,
    ),
    (
        Section(
            "cost",
            "Cost",
            "What usage cost per day, by app and by model, as priced when it was ingested, "
            "and how much of it no rate could price.",
        ),
        cost_section,
    ),
    (
        Section(
            "auth",
            "Auth failures",
            "How many logins failed per day, in which app, and who failed most.",
        ),
        auth_section,
    ),
    (
        Section(
            "dead_letters",
            "Top dead-letter reasons",
            "What the pipeline refused, by reason (error class), and from which apps.",
        ),
        dead_letters_section,
    ),
    (
        Section(
            "chat_latency",
            "Chat latency",
            "How long chat turns took end to end (payload.latency_ms_total, else latency_ms).",
        ),
        chat_latency_section,
    ),
    (
        Section(
            "pipeline",
            "Pipeline delay",
            "How long events took from occurred_at to ingested_at (publisher queue, Pub/Sub, "
            "subscriber), per hour of processing (UTC).",
        ),
        pipeline_section,
    ),
)
"""Each section's title and question, and the function that fills it, in page order."""


def collect(warehouse: Warehouse, period: Period) -> list[Section]:
    """Every section; one whose query fails carries the error instead of its numbers.

    :class:`~il_audit.report._warehouse.WarehouseUnavailableError` is not caught: when the
    warehouse cannot be read at all there is no report.
    """
    sections = []
    for base, build in SECTIONS:
        try:
            sections.append(build(warehouse, period, base))
        except QueryFailedError as exc:
            sections.append(replace(base, error=str(exc)))
    return sections


def _empty(section: Section, note: str) -> Section:
    return _replace(section, empty_note=note)


def _replace(section: Section, **changes: Any) -> Section:
    return replace(section, **changes)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "—" if value is None else str(value)


def _cut(text: Any) -> str:
    if text is None:
        return "—"
    value = str(text)
    return value if len(value) <= DETAIL_CHARS else value[: DETAIL_CHARS - 1] + "…"
