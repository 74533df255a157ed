"""The browser script, the router and the embedded pipeline, end to end in headless Chromium."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from il_audit.devtools.ports import free_port
from tests.browser.support import ExampleApp
from tests.support.waiting import wait_until


def _open(browser: WebDriver, example: ExampleApp, path: str = "/") -> None:
    browser.get(example.url + path)
    wait_until(
        lambda: browser.execute_script("return typeof window.auditTrack === 'function'"),
        10,
        "the beacon script",
    )


def _flush(browser: WebDriver) -> int:
    """auditBeaconFlush() in the page; returns what its promise resolved to."""
    delivered: int = browser.execute_async_script(
        "var done = arguments[arguments.length - 1]; auditBeaconFlush().then(done, done);"
    )
    return delivered


def _by_element(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["payload"]["element_id"]: row for row in rows}


def test_marked_clicks_are_recorded_once_with_their_fields(
    browser: WebDriver, example: ExampleApp
) -> None:
    """Clicks on marked elements and a 0.1-style self-tracked button each land exactly once."""
    _open(browser, example, "/?q=secret-term")
    browser.find_element(By.CSS_SELECTOR, "a[data-il-audit-id=files]").click()
    browser.find_element(By.CSS_SELECTOR, "a[data-nav=chat]").click()
    browser.find_element(By.CSS_SELECTOR, "#new-chat span").click()  # inner element: closest wins
    browser.find_element(By.ID, "feedback").click()  # the page's own handler, not auto-tracked
    browser.find_element(By.ID, "search").click()  # unmarked: nothing
    assert _flush(browser) == 4

    rows = example.wait_for_rows(4)
    session = browser.execute_script("return sessionStorage.getItem('il_audit_session_id')")
    user_agent = browser.execute_script("return navigator.userAgent")
    by_element = _by_element(rows)
    assert Counter(row["payload"]["element_id"] for row in rows) == {
        "files": 1, "chat": 1, "new-chat": 1, "feedback": 1,
    }  # fmt: skip
    assert by_element["files"]["event_type"] == "ui.tab.viewed"
    assert by_element["files"]["payload"]["surface"] == "main_nav"
    assert by_element["files"]["resource_type"] == "nav_tab"
    assert by_element["files"]["action"] == "click"
    assert by_element["chat"]["resource_id"] == "chat"
    assert by_element["new-chat"]["event_type"] == "ui.chat.new_chat.clicked"
    assert by_element["new-chat"]["payload"]["surface"] == "chat_panel"
    assert by_element["feedback"]["action"] == "submit"
    for row in rows:
        assert (row["app"], row["module"], row["source"], row["status"]) == (
            "beacon-example", "ui", "beacon", "succeeded",
        )  # fmt: skip
        assert (row["actor_uid"], row["actor_email"]) == ("user-1", "user-1@example.com")
        assert row["session_id"] == session
        assert row["payload"]["page_path"] == "/"
        assert row["payload"]["user_agent"] == user_agent
        assert "client_address_hash" not in row["payload"]
        assert "secret-term" not in repr(row)
        assert row["metadata"]["client_ts"].endswith("Z")


def test_no_click_is_sent_twice(browser: WebDriver, example: ExampleApp) -> None:
    """Flushing again, and hiding the page afterwards, adds no copies of delivered clicks."""
    _open(browser, example)
    browser.find_element(By.CSS_SELECTOR, "a[data-il-audit-id=files]").click()
    assert _flush(browser) == 1
    assert _flush(browser) == 0
    browser.get("about:blank")
    example.wait_for_rows(1)
    assert len(example.rows()) == 1


def test_incomplete_marks_and_non_ui_types_are_not_sent(
    browser: WebDriver, example: ExampleApp
) -> None:
    """A marked element without an id, and auditTrack of a non-ui type, queue nothing."""
    _open(browser, example)
    browser.execute_script(
        "var b = document.createElement('button'); b.id = ''; b.textContent = 'anonymous';"
        "b.setAttribute('data-il-audit-track', 'click');"
        "b.setAttribute('data-il-audit-event', 'ui.element.clicked');"
        "b.className = 'no-id'; document.body.appendChild(b);"
    )
    browser.find_element(By.CSS_SELECTOR, "button.no-id").click()
    assert browser.execute_script("return auditTrack('auth.logout', {element_id: 'x'})") is False
    assert _flush(browser) == 0
    browser.get("about:blank")
    assert '"POST /api/audit/beacon' not in example.log_text()


def test_refused_batch_is_dropped_not_resent(browser: WebDriver, example: ExampleApp) -> None:
    """A batch the server refuses for good (422) is dropped; later events still go through."""
    _open(browser, example)
    browser.execute_script("auditTrack('ui.not.registered', {element_id: 'bad'});")
    assert _flush(browser) == 0
    browser.execute_script("auditTrack('ui.menu.opened', {element_id: 'good'});")
    assert _flush(browser) == 1
    rows = example.wait_for_rows(1)
    assert [row["payload"]["element_id"] for row in rows] == ["good"]
    assert example.log_text().count('"POST /api/audit/beacon HTTP/1.1" 422') == 1


def test_tracking_by_hand_delivers_the_given_fields(
    browser: WebDriver, example: ExampleApp
) -> None:
    """auditTrack with explicit fields (and the page's search handler) lands as sent."""
    _open(browser, example)
    browser.find_element(By.ID, "search").send_keys("quarterly report")
    browser.find_element(By.ID, "search-go").click()
    browser.execute_script(
        "auditTrack('ui.tour.step.viewed', {surface: 'tour', element_id: 'step-2',"
        " duration_ms: 1500, resource_type: 'tour_step', metadata: {step: 2}});"
    )
    assert _flush(browser) == 2
    rows = _by_element(example.wait_for_rows(2))
    search = rows["search"]
    assert search["event_type"] == "ui.drive.search"
    assert search["payload"]["result_count"] == 3
    assert search["payload"]["surface"] == "drive_search"
    assert search["metadata"]["query_length"] == len("quarterly report")
    assert "quarterly" not in repr(search)
    step = rows["step-2"]
    assert step["event_type"] == "ui.tour.step.viewed"
    assert step["payload"]["duration_ms"] == 1500
    assert step["resource_type"] == "tour_step"
    assert step["metadata"]["step"] == 2


def test_full_batch_flushes_by_itself(browser: WebDriver, example: ExampleApp) -> None:
    """Reaching batchSize sends the queue without a flush call."""
    _open(browser, example)
    browser.execute_script("initAuditBeacon({autoTrackClick: true, batchSize: 3});")
    for index in range(3):
        browser.execute_script(f"auditTrack('ui.menu.opened', {{element_id: 'menu-{index}'}});")
    assert {row["payload"]["element_id"] for row in example.wait_for_rows(3)} == {
        "menu-0", "menu-1", "menu-2",
    }  # fmt: skip


def test_leaving_the_page_sends_the_queue(browser: WebDriver, example: ExampleApp) -> None:
    """Events still queued when the page is left (pagehide) are delivered by sendBeacon."""
    _open(browser, example)
    browser.find_element(By.CSS_SELECTOR, "a[data-il-audit-id=files]").click()
    browser.execute_script("auditTrack('ui.visit.ended', {element_id: 'visit'});")
    assert browser.execute_script("return document.visibilityState") == "visible"
    browser.get("about:blank")
    rows = example.wait_for_rows(2)
    assert sorted(row["event_type"] for row in rows) == ["ui.tab.viewed", "ui.visit.ended"]
    assert all(row["actor_uid"] == "user-1" for row in rows)  # sendBeacon carries the cookie
    assert all(row["payload"]["page_path"] == "/" for row in rows)


def test_hiding_the_tab_sends_the_queue(browser: WebDriver, example: ExampleApp) -> None:
    """Switching to another tab (visibilitychange to hidden) delivers the queued events."""
    _open(browser, example)
    browser.find_element(By.CSS_SELECTOR, "#new-chat").click()
    browser.switch_to.new_window("tab")
    rows = example.wait_for_rows(1)
    assert rows[0]["event_type"] == "ui.chat.new_chat.clicked"


def test_rate_limited_batch_waits_for_retry_after(
    browser: WebDriver, start_example: Callable[..., ExampleApp]
) -> None:
    """A 429 puts the batch back until Retry-After has passed; then it is delivered once."""
    example = start_example(IL_BEACON_MAX_REQUESTS_PER_WINDOW="1", IL_BEACON_WINDOW_SECONDS="2")
    _open(browser, example)
    browser.execute_script("auditTrack('ui.menu.opened', {element_id: 'first'});")
    assert _flush(browser) == 1
    browser.execute_script("auditTrack('ui.menu.opened', {element_id: 'second'});")
    assert _flush(browser) == 0  # refused with 429, kept in the queue
    rows = example.wait_for_rows(2, timeout=15)
    assert [row["payload"]["element_id"] for row in rows] == ["first", "second"]
    assert example.log_text().count('"POST /api/audit/beacon HTTP/1.1" 429') == 1


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, _format: str, *args: Any) -> None:
        return None


@pytest.fixture
def second_origin(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static server on another port (another origin, same site): (directory, base URL)."""
    directory = tmp_path / "other-origin"
    directory.mkdir()
    port = free_port()

    def handler(*args: Any) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(directory))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield directory, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_cross_site_page_is_refused(
    browser: WebDriver, example: ExampleApp, second_origin: tuple[Path, str]
) -> None:
    """A page on a second port posting beacons, cookie included, gets 403 and stores nothing."""
    directory, base = second_origin
    body = '{"events": [{"event_type": "ui.element.clicked", "element_id": "forged"}]}'
    (directory / "attack.html").write_text(
        "<!doctype html><script>\n"
        f"var target = '{example.url}/api/audit/beacon';\n"
        f"var body = '{body}';\n"
        "navigator.sendBeacon(target, body);\n"
        "fetch(target, {method: 'POST', mode: 'no-cors', credentials: 'include',\n"
        "  headers: {'Content-Type': 'text/plain'}, body: body});\n"
        "</script>",
        encoding="utf-8",
    )
    _open(browser, example)  # the user is logged in: the cookie would go along
    browser.get(base + "/attack.html")
    wait_until(
        lambda: example.log_text().count('"POST /api/audit/beacon HTTP/1.1" 403') == 2,
        15,
        "two refused cross-site posts",
    )
    assert '"POST /api/audit/beacon HTTP/1.1" 200' not in example.log_text()
    assert example.rows() == []
