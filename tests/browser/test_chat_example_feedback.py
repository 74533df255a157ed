"""examples/chat_app's page in Chromium: ask, rate the answer, find the verdict on its turn."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from il_audit.devtools.ports import free_port, wait_for_http
from tests.browser.support import ROOT
from tests.support.duck import read
from tests.support.waiting import wait_until

COMMENT = "It quoted the 2025 handbook."
JOINED = (
    "SELECT f.name, f.value_bool, f.is_negative, f.comment, f.comment_length, f.source,"
    " f.actor_uid, t.turn_id, t.conversation_id = f.conversation_id"
    " FROM chat_feedback_scores AS f JOIN chat_turns AS t ON t.turn_id = f.turn_id"
)


@pytest.fixture
def chat_example(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """examples/chat_app under uvicorn (embedded transport, question text off)."""
    port = free_port()
    database = tmp_path / "chat.duckdb"
    env = {name: value for name, value in os.environ.items() if not name.startswith("IL_")}
    log = tmp_path / "uvicorn.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "examples" / "chat_app"),
         "app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "IL_AUDIT_TRANSPORT": "local",
             "IL_AUDIT_DUCKDB_PATH": str(database), "IL_AUDIT_MAX_LATENCY_MS": "20",
             "IL_AUDIT_STORE_QUERY_TEXT": "false"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(url + "/", 60, alive=lambda: process.poll() is None):
            raise AssertionError(f"the example did not start:\n{log.read_text('utf-8')}")
        yield url, database
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _joined(database: Path) -> list[tuple[Any, ...]]:
    if not database.exists():
        return []
    try:
        return read(database, JOINED)
    except duckdb.Error:  # no view before the first write; a file being created
        return []


def test_the_example_page_sends_feedback_on_its_turn(
    browser: WebDriver, chat_example: tuple[str, Path]
) -> None:
    """Ask on the page, click "Not helpful" with a comment: one verdict, joined to the turn
    the page was answered by, the comment only as length and hash (query text is off)."""
    url, database = chat_example
    browser.get(url + "/")
    browser.find_element(By.ID, "question").send_keys("How many days off do I get?")
    browser.find_element(By.ID, "ask-go").click()
    wait_until(lambda: browser.find_element(By.ID, "feedback").is_displayed(), 20, "an answer")
    browser.find_element(By.ID, "comment").send_keys(COMMENT)
    browser.find_element(By.ID, "thumbs-down").click()

    wait_until(lambda: _joined(database), 20, "the verdict joined to its turn")
    [row] = _joined(database)
    assert row[:7] == ("thumbs", False, True, None, len(COMMENT), "beacon", "u-42")
    assert row[8] is True  # the page's conversation on both
