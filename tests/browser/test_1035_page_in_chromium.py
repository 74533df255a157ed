"""A page written against il-audit 1.0.35's browser API, end to end in headless Chromium.

The host (``tests/browser/host_1035``) has a login page (``login_audit.js``), an
app page (``visit_session.js``, change tracking, the idle hooks, ``ilAuthFetch``)
and a logout that suppresses the unload beacons; the router and the embedded
pipeline are the real ones. One walk through the three pages checks the 1.0.35
globals, what reaches the server and the warehouse, and what must not.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.browser.support import ExampleApp
from tests.support.duck import read
from tests.support.waiting import wait_until

HOST = Path(__file__).parent / "host_1035"
SECRET = "confidential merger plan"
"""Typed into a change-tracked text field: only its length may leave the page."""
GLOBALS_1035 = (
    "initAuditBeacon", "auditTrack", "auditFieldsFromElement", "auditBeaconFlush",
    "auditBeaconFlushAsync", "auditSuppressUnloadBeacons", "auditBeaconClearQueue",
    "auditCurrentPagePath", "initIlVisitSession", "noteIlVisitResource", "noteIlVisitAction",
    "buildIlVisitSessionMetadata", "getIlVisitSessionId",
)  # fmt: skip
FLUSH_ASYNC = (
    "var done = arguments[arguments.length - 1];"
    "auditBeaconFlushAsync(arguments[0]).then(done, function () { done('rejected'); });"
)


def _at(browser: WebDriver, path: str, ready: str) -> None:
    wait_until(
        lambda: browser.execute_script(
            f"return location.pathname === '{path}' && typeof window.{ready} === 'function'"
        ),
        15,
        f"{path} with {ready}",
    )


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return row["event_type"], row["payload"].get("element_id")


def _beacon_posts(performance_log: list[dict[str, Any]]) -> list[tuple[dict[str, str], str]]:
    """The headers and bodies Chromium posted to the beacon endpoint (fetch and sendBeacon)."""
    posts = []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        request = message["params"]["request"]
        if request["url"].endswith("/api/audit/beacon") and request["method"] == "POST":
            posts.append((request["headers"], request.get("postData", "")))
    return posts


def test_a_1035_page_runs_and_its_rows_land(
    browser: WebDriver, start_example: Callable[..., ExampleApp]
) -> None:
    """Login page, visit session, change tracking, flush async, clear queue, idle flush and
    logout with suppressed unload beacons: no console error, the rows expected and no others,
    and the typed text nowhere on the wire or in the warehouse."""
    host = start_example(HOST)

    # The login page: a view on load, a click on a provider, both before any session.
    browser.get(host.url + "/login?next=/app")
    _at(browser, "/login", "trackLoginProviderClick")
    browser.find_element(By.ID, "google_sign_in").click()
    _at(browser, "/app", "buildIlVisitSessionMetadata")

    # The app page: every 1.0.35 global is there.
    missing = browser.execute_script(
        "return arguments[0].filter(function (n) { return typeof window[n] !== 'function'; });",
        list(GLOBALS_1035),
    )
    assert missing == []
    assert browser.execute_script("return auditCurrentPagePath()") == "/app?tab=chat"

    # Change tracking: a select, a checkbox and a text field; a click-tracked menu.
    Select(browser.find_element(By.NAME, "sort")).select_by_value("oldest")
    browser.find_element(By.ID, "shared_only").click()
    browser.find_element(By.ID, "title_filter").send_keys(SECRET, Keys.TAB)  # change on blur
    browser.find_element(By.ID, "menu").click()
    browser.execute_script(
        "noteIlVisitAction(); noteIlVisitAction(); noteIlVisitResource('conv-1');"
        "noteIlVisitResource('conv-1'); noteIlVisitResource('conv-2');"
    )
    assert browser.execute_async_script(FLUSH_ASYNC, True) is True

    # A cleared queue sends nothing, and an empty queue resolves true at once.
    browser.execute_script(
        "auditTrack('ui.menu.opened', {element_id: 'cleared'}); auditBeaconClearQueue();"
    )
    assert browser.execute_async_script(FLUSH_ASYNC, False) is True

    # The host says the page went idle: the queue goes out at once.
    browser.execute_script(
        "auditTrack('ui.tour.paused', {element_id: 'idle_flush'}); setPageIdle(true);"
    )
    wait_until(
        lambda: ("ui.tour.paused", "idle_flush") in {_key(row) for row in host.rows()},
        15,
        "the idle flush",
    )
    browser.execute_script("setPageIdle(false);")

    # minFlushGapMs: right after a send, an unforced flush waits (nothing is posted yet) and
    # is delivered once the gap has passed; a forced one goes at once.
    sent_now, sent_later, delivered = browser.execute_async_script(
        "var done = arguments[arguments.length - 1], before = ilAuthFetchCalls;"
        "auditTrack('ui.menu.opened', {element_id: 'gap_forced'}); auditBeaconFlush(true);"
        "auditTrack('ui.menu.opened', {element_id: 'gap_deferred'});"
        "var pending = auditBeaconFlush(), now = ilAuthFetchCalls - before;"
        "pending.then(function (n) { done([now, ilAuthFetchCalls - before, n]); });"
    )
    assert (sent_now, sent_later, delivered) == (1, 2, 1)
    visit_id = browser.execute_script("return getIlVisitSessionId()")
    assert browser.execute_script("return window.ilAuthFetchCalls") >= 2

    # Logout: the visit's end is delivered, then the unload beacons are suppressed; the
    # logout lands on the login page again, whose view is the last row to wait for.
    browser.find_element(By.ID, "logout").click()
    _at(browser, "/login", "trackLoginProviderClick")
    wait_until(
        lambda: Counter(_key(row) for row in host.rows())[("ui.tab.viewed", "login_page")] == 2,
        20,
        "the second login page view",
    )
    rows = host.rows()
    console = browser.get_log("browser")
    posts = _beacon_posts(browser.get_log("performance"))
    access_log = host.log_text()

    assert [entry for entry in console if entry["level"] == "SEVERE"] == []
    assert Counter(_key(row) for row in rows) == {
        ("ui.tab.viewed", "login_page"): 2,
        ("ui.element.clicked", "google_sign_in"): 1,
        ("ui.visit.started", "visit"): 1,
        ("ui.filter.changed", "sort_order"): 1,
        ("ui.filter.changed", "shared_only"): 1,
        ("ui.filter.changed", "title_filter"): 1,
        ("ui.menu.opened", "menu"): 1,
        ("ui.menu.opened", "gap_forced"): 1,
        ("ui.menu.opened", "gap_deferred"): 1,
        ("ui.tour.paused", "idle_flush"): 1,
        ("ui.visit.ended", "visit"): 1,
        ("chat.visit.started", None): 1,  # the router's visit handler, from the two above
        ("chat.visit.ended", None): 1,
    }  # fmt: skip: nothing 'cleared', nothing 'after_logout'
    by_key = {_key(row): row for row in rows}

    for key in (("ui.tab.viewed", "login_page"), ("ui.element.clicked", "google_sign_in")):
        login = by_key[key]
        assert (login["actor_uid"], login["payload"]["surface"]) == (None, "auth_login")
        assert login["payload"]["page_path"] == "/login"
    assert by_key["ui.tab.viewed", "login_page"]["resource_type"] == "page"
    assert by_key["ui.element.clicked", "google_sign_in"]["action"] == "click"

    app_rows = [
        row
        for row in rows
        if row["event_type"].startswith("ui.") and row["payload"].get("surface") != "auth_login"
    ]
    assert {row["actor_uid"] for row in app_rows} == {"user-1"}
    assert {row["payload"]["page_path"] for row in app_rows} == {"/app"}  # never the query

    select = by_key["ui.filter.changed", "sort_order"]  # the id from data-sort
    assert select["action"] == "change"
    assert select["payload"]["surface"] == "library_filters"
    assert select["metadata"]["selected_value"] == "oldest"
    assert select["metadata"]["field_name"] == "sort"
    checkbox = by_key["ui.filter.changed", "shared_only"]
    assert (checkbox["metadata"]["checked"], checkbox["metadata"]["field_name"]) == (
        True, "shared_only",
    )  # fmt: skip
    text = by_key["ui.filter.changed", "title_filter"]
    assert text["metadata"]["value_length"] == len(SECRET)
    assert "value" not in text["metadata"]
    assert by_key["ui.menu.opened", "menu"]["action"] == "click"

    started = by_key["ui.visit.started", "visit"]["metadata"]
    ended = by_key["ui.visit.ended", "visit"]["metadata"]
    assert started["visit_session_id"] == ended["visit_session_id"] == visit_id
    assert (started["turn_count"], started["conversation_count"]) == (0, 0)
    assert (ended["turn_count"], ended["conversation_count"]) == (2, 2)
    assert ended["ended_reason"] == "logout"
    assert ended["duration_seconds"] > started["duration_seconds"] >= 0
    assert by_key["ui.visit.ended", "visit"]["action"] == "logout"

    # Each fetch names its page in X-IL-Audit-Path, without the query.
    paths = [headers.get("X-IL-Audit-Path") for headers, _body in posts]
    assert set(paths) - {None} == {"/login", "/app"}
    assert paths.count("/app") >= 4

    # After auditSuppressUnloadBeacons() leaving the page sent nothing: without it, the queued
    # event goes out on pagehide after the logout and is refused (sendBeacon logs no error).
    assert '"POST /api/audit/beacon HTTP/1.1" 401' not in access_log

    # The typed text never left the page: not in a posted body, not in the warehouse.
    bodies = [body for _headers, body in posts]
    assert any(f'"value_length":{len(SECRET)}' in body for body in bodies)  # bodies are seen
    assert not any(SECRET in body or "merger" in body for body in bodies)
    everything = read(host.database, "SELECT * FROM events")
    assert "merger" not in repr(everything)

    # ui_interaction_events holds every ui.* row of the walk, with its page path.
    view = read(
        host.database,
        "SELECT event_type, element_id, interaction, actor_uid, path FROM ui_interaction_events",
    )
    ui_rows = [row for row in rows if row["event_type"].startswith("ui.")]
    assert sorted(view, key=repr) == sorted(
        (
            (row["event_type"], row["payload"]["element_id"], row["action"], row["actor_uid"],
             row["payload"]["page_path"])
            for row in ui_rows
        ),
        key=repr,
    )  # fmt: skip
    assert ("ui.tab.viewed", "login_page", "view", None, "/login") in view
    assert ("ui.filter.changed", "title_filter", "change", "user-1", "/app") in view

    # The visit's two beacons make its chat_visit_sessions row.
    wait_until(lambda: _visits(host), 15, "the visit's row")
    assert _visits(host) == [
        (visit_id, "host-1035", "user-1", "logout", 2, 2, ended["duration_seconds"], True)
    ]

    # Without a session, the login-surface rule lets through the login page's own beacons
    # and nothing else: another event from the same page is refused.
    refused = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "auditTrack('ui.menu.opened', {surface: 'auth_login', element_id: 'login_menu'});"
        "auditBeaconFlushAsync(true).then(done);"
    )
    assert refused is False
    wait_until(
        lambda: '"POST /api/audit/beacon HTTP/1.1" 401' in host.log_text(), 10, "the refusal"
    )
    assert "login_menu" not in {row["payload"].get("element_id") for row in host.rows()}


def _visits(host: ExampleApp) -> list[tuple[Any, ...]]:
    return read(
        host.database,
        "SELECT visit_session_id, app, actor_uid, ended_reason, turn_count, conversation_count,"
        " duration_seconds, started_at < ended_at FROM chat_visit_sessions"
        " WHERE ended_at IS NOT NULL",
    )
