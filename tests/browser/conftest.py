"""Real-browser fixtures: Debian's chromium + chromium-driver through Selenium, and the example app.

Chromium is found at ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (or
``IL_AUDIT_CHROMIUM`` / ``IL_AUDIT_CHROMEDRIVER``). When they are missing the
tests are skipped with the install hint, except in CI (``CI`` set), where they
fail, as the emulator tests do. One Chromium serves the session; each test gets
it reset to what a new one is (a new tab, no cookies, cache or logs), and a
fresh example app (uvicorn on a free 127.0.0.1 port) writing its own embedded
DuckDB file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from il_audit.devtools.ports import free_port, wait_for_http
from tests.browser.support import ROOT, ExampleApp

EXAMPLE_DIR = ROOT / "examples" / "beacon_app"
INSTALL_HINT = (
    "install Debian's browser and its driver: apt-get install -y chromium chromium-driver"
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)


def _ci() -> bool:
    return bool(os.environ.get("CI"))


def _binary(variable: str, default: str, name: str) -> str | None:
    candidate = os.environ.get(variable) or default
    if Path(candidate).is_file():
        return candidate
    return shutil.which(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a browser test (``-m "not browser"`` skips them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of chromium and chromedriver; skip (fail in CI) when missing."""
    browser = _binary("IL_AUDIT_CHROMIUM", "/usr/bin/chromium", "chromium")
    driver = _binary("IL_AUDIT_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")
    if browser is None or driver is None:
        message = f"chromium or chromedriver not found; {INSTALL_HINT}"
        if _ci():
            pytest.fail(f"CI needs the browser tests: {message}", pytrace=False)
        pytest.skip(message)
    return browser, driver


class _Chromium:
    """One headless Chromium for the session, started again only if it stops answering."""

    def __init__(self, binary: str, driver_path: str, profile: Path) -> None:
        self.binary = binary
        self.driver_path = driver_path
        self.profile = profile
        self.driver: Any = None
        self.window_size: dict[str, int] = {}

    def start(self) -> Any:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = self.binary
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        # What the page requested and logged (driver.get_log("performance" / "browser")).
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        # Selenium Manager must not look for drivers online: the path is given, stats are off.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SE_AVOID_STATS", "true")
            driver = webdriver.Chrome(
                options=options, service=Service(executable_path=self.driver_path)
            )
        driver.set_script_timeout(20)
        self.driver = driver
        self.window_size = driver.get_window_size()
        return driver

    def fresh(self) -> Any:
        """The browser as a new one is: one new blank tab, no cookies, no cache, empty logs,
        the first window size. Restarted when resetting fails (a test left it broken)."""
        from selenium.common.exceptions import WebDriverException

        if self.driver is None:
            return self.start()
        driver = self.driver
        try:
            old = driver.window_handles
            driver.switch_to.new_window("tab")  # a new tab: its sessionStorage is empty
            tab = driver.current_window_handle
            for handle in old:
                driver.switch_to.window(handle)
                driver.close()
            driver.switch_to.window(tab)
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            driver.set_window_size(self.window_size["width"], self.window_size["height"])
            driver.get_log("performance")
            driver.get_log("browser")
        except WebDriverException:
            self.quit()
            return self.start()
        return driver

    def quit(self) -> None:
        if self.driver is not None:
            driver, self.driver = self.driver, None
            driver.quit()


@pytest.fixture(scope="session")
def _chromium_session(
    chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_Chromium]:
    """The session's Chromium (starting one costs about a second, quitting it another)."""
    binary, driver_path = chromium
    session = _Chromium(binary, driver_path, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture
def browser(_chromium_session: _Chromium) -> object:
    """A headless Chromium driven through Selenium, as fresh as a new one: a new tab with
    no cookies, cache or logs from earlier tests."""
    return _chromium_session.fresh()


@pytest.fixture
def start_example(tmp_path: Path) -> Iterator[Callable[..., ExampleApp]]:
    """Start the example app (or the app in ``app_dir``, as ``app:app``) under uvicorn with the
    embedded transport; env overrides allowed."""
    started: list[ExampleApp] = []

    def start(app_dir: Path = EXAMPLE_DIR, **env: str) -> ExampleApp:
        port = free_port()
        directory = tmp_path / f"app-{port}"
        directory.mkdir()
        database = directory / "events.duckdb"
        log = directory / "uvicorn.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir),
             "app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=directory,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "IL_AUDIT_TRANSPORT": "local",
                "IL_AUDIT_DUCKDB_PATH": str(database),
                "IL_AUDIT_MAX_LATENCY_MS": "20",
                **env,
            },
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        app = ExampleApp(process, f"http://127.0.0.1:{port}", port, database, log)
        started.append(app)
        if not wait_for_http(app.url + "/", 60, alive=lambda: process.poll() is None):
            raise AssertionError(f"the example app did not start:\n{app.log_text()}")
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def example(start_example: Callable[..., ExampleApp]) -> ExampleApp:
    """The example app with its default settings."""
    return start_example()
