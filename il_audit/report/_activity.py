"""Sections about activity: events per day, active users, auth failures."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

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
    EVENTS_PER_DAY,
)
from il_audit.report._section_common import MAX_SERIES, TOP_ROWS, period_params
from il_audit.report._values import (
    as_day,
    as_int,
    day_range,
    empty,
    pivot,
    replace_section,
    timestamp_text,
)
from il_audit.report._warehouse import Warehouse


def events_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Events per day, by app."""
    rows = warehouse.query(EVENTS_PER_DAY, period_params(period))
    if not rows:
        return empty(base, "No events in this period.")
    cells: dict[tuple[str, str], Number] = defaultdict(int)
    for row in rows:
        cells[(as_day(row["day"]).isoformat(), row["app"])] += as_int(row["events"])
    categories = day_range(as_day(row["day"]) for row in rows)
    total = sum(int(value) for value in cells.values())
    return replace_section(
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
    params = period_params(period)
    by_app = warehouse.query(ACTIVE_USERS_BY_APP, params)
    if not by_app:
        return empty(base, "No events with an actor in this period.")
    all_apps = warehouse.query(ACTIVE_USERS_ALL_APPS, params)
    period_rows = warehouse.query(ACTIVE_USERS_PERIOD, params)
    cells: dict[tuple[str, str], Number] = {}
    for row in by_app:
        cells[(as_day(row["day"]).isoformat(), row["app"])] = as_int(row["active_users"])
    daily = {as_day(row["day"]).isoformat(): as_int(row["active_users"]) for row in all_apps}
    categories = day_range([as_day(row["day"]) for row in by_app])
    series = (
        Series("all apps", tuple(daily.get(day, 0) for day in categories)),
        *pivot(cells, categories, limit=MAX_SERIES - 1),
    )
    return replace_section(
        base,
        figures=(
            Figure(
                "Distinct users in the period",
                as_int(period_rows[0]["users"]) if period_rows else 0,
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


def auth_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Failed logins per day by app, and the actors who failed most."""
    rows = warehouse.query(AUTH_FAILURES, period_params(period))
    if not rows:
        return empty(base, "No failed logins in this period.")
    cells: dict[tuple[str, str], Number] = defaultdict(int)
    actors: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, 0, None])
    for row in rows:
        cells[(as_day(row["day"]).isoformat(), row["app"])] += as_int(row["failed_logins"])
        key = (row["app"], row["actor_email"] or "", row["actor_uid"] or "")
        totals = actors[key]
        totals[0] += as_int(row["failed_logins"])
        totals[1] += as_int(row["successful_logins"])
        if row["last_failure_at"] is not None and (
            totals[2] is None or row["last_failure_at"] > totals[2]
        ):
            totals[2] = row["last_failure_at"]
    categories = day_range(as_day(row["day"]) for row in rows)
    top = sorted(actors.items(), key=lambda item: (-item[1][0], item[0]))[:TOP_ROWS]
    return replace_section(
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
                    (app, email or "—", uid or "—", t[0], t[1], timestamp_text(t[2]))
                    for (app, email, uid), t in top
                ),
            ),
        ),
    )
