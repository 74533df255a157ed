"""A page's feedback (ui.chat.feedback) through the router into chat_feedback_scores."""

from __future__ import annotations

from typing import Any

import duckdb
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.support import ExampleApp
from tests.support.duck import read
from tests.support.waiting import wait_until

COMMENT = "Quoted last year's rule."


def _scores(example: ExampleApp) -> list[tuple[Any, ...]]:
    if not example.database.exists():
        return []
    try:
        return read(
            example.database,
            "SELECT turn_id, conversation_id, name, value_type, score, is_negative, source,"
            " comment, comment_length, actor_uid FROM chat_feedback_scores ORDER BY name",
        )
    except duckdb.Error:  # no view before the first write; a file being created
        return []


def test_feedback_from_a_page_reaches_its_view(browser: WebDriver, example: ExampleApp) -> None:
    """auditTrack('ui.chat.feedback', {feedback}) in the page: one row per verdict in
    chat_feedback_scores, with the router's user; an invalid verdict is refused (422)."""
    browser.get(example.url + "/")
    wait_until(
        lambda: browser.execute_script("return typeof window.auditTrack === 'function'"),
        10,
        "the beacon script",
    )
    browser.execute_script(
        "auditTrack('ui.chat.feedback', {feedback: {turn_id: 'turn-7', name: 'thumbs',"
        " value: false, comment: arguments[0], conversation_id: 'conv-7'}});"
        "auditTrack('ui.chat.feedback', {feedback: {turn_id: 'turn-7', name: 'helpful',"
        " value: 'yes'}});",
        COMMENT,
    )
    delivered = browser.execute_async_script(
        "var done = arguments[arguments.length - 1]; auditBeaconFlush().then(done, done);"
    )
    assert delivered == 2
    browser.execute_script(
        "auditTrack('ui.chat.feedback', {feedback: {turn_id: 'turn-7', name: 'thumbs'}});"
    )
    refused = browser.execute_async_script(
        "var done = arguments[arguments.length - 1]; auditBeaconFlush().then(done, done);"
    )
    assert refused == 0

    wait_until(lambda: len(_scores(example)) == 2, 20, "2 rows in chat_feedback_scores")
    assert _scores(example) == [
        ("turn-7", None, "helpful", "label", None, False, "beacon", None, None, "user-1"),
        ("turn-7", "conv-7", "thumbs", "boolean", 0.0, True, "beacon", COMMENT, len(COMMENT),
         "user-1"),
    ]  # fmt: skip
    assert example.log_text().count('"POST /api/audit/beacon HTTP/1.1" 422') == 1
