"""A real browser for the Mini App: Selenium driving Debian's chromium and chromium-driver
(.ci/run installs them), headless, with a fresh profile per test.

Selenium's calls block, so they run in a worker thread while the bot's web server keeps
serving on the test's event loop. Waiting is for a condition in the page (WebDriverWait),
never for a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from bot.sandbox.webapp import sign_init_data

T = TypeVar("T")
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
NO_BROWSER = (
    "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
)

needs_browser = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=NO_BROWSER)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_url(base: str, token: str, telegram_id: int, auth_date: int, theme: dict | None = None):
    """The address a Telegram client opens: the app's URL with its launch parameters."""
    user = {"id": telegram_id, "first_name": "Olga", "language_code": "en"}
    init = sign_init_data(
        token,
        {"auth_date": str(auth_date), "query_id": "AAQ", "user": json.dumps(user)},
    )
    fragment = urlencode(
        {
            "tgWebAppData": init,
            "tgWebAppVersion": "8.0",
            "tgWebAppPlatform": "tdesktop",
            "tgWebAppThemeParams": json.dumps(theme or {}),
        },
        quote_via=quote,
    )
    return f"{base}/app/#{fragment}"


class Browser:
    def __init__(self, width: int = 390, height: int = 844):
        self._profile = tempfile.mkdtemp(prefix="shopbot-chromium-")
        options = Options()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(options=options, service=Service(DRIVER))

    async def do(self, step: Callable[[webdriver.Chrome], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, step, self.driver)

    async def until(self, condition: Callable[[webdriver.Chrome], Any], within: float = 10) -> Any:
        # A view being swapped in leaves stale elements behind: look again.
        return await self.do(
            lambda d: WebDriverWait(
                d, within, ignored_exceptions=(StaleElementReferenceException,)
            ).until(condition)
        )

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)
