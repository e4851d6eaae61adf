"""Browser fixtures: Debian's system Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.live import process_env, web_process
from tests.routing.conftest import joint_ticket, people, submit  # noqa: F401  (shared fixtures)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]

# Auto-waiting assertions may wait this long (the first submission loads the Chinese NLP models).
EXPECT_TIMEOUT_MS = 20_000


def _unavailable(reason: str):
    """No browser: a failure when the environment demands one (CI), a skip otherwise."""
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"a browser is required (REQUIRE_BROWSER is set) but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_instance():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - the package is in requirements-dev
        _unavailable(f"the playwright package is not importable: {error}")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} does not exist")
    try:
        instance = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as error:  # noqa: BLE001 - any launch failure means "no browser here"
        _unavailable(f"{CHROMIUM} could not be launched: {error}")
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield instance
    instance.close()


@pytest.fixture
def new_context(browser, live_server):
    """Factory for isolated browser contexts (own cookies); all are closed after the test, before the server stops."""
    contexts = []

    def make(**options):
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def live_server(db, database_url, tmp_path):
    """Factory: start the real gunicorn web process (embedded mode: no Redis) and return its base URL.

    Call it inside the test, after the data fixtures (db, catalog, make_user) have committed their rows;
    it depends on ``db`` so the process is stopped at the end of the test, before ``db`` empties the tables.
    """
    stack = ExitStack()

    def start(name: str = "web") -> str:
        uploads = tmp_path / "uploads"
        uploads.mkdir(exist_ok=True)
        env = process_env(database_url, str(uploads), redis=None)
        return stack.enter_context(web_process(env, tmp_path, name))

    with stack:
        yield start


def log_in(page, base: str, user) -> None:
    """Log in through the real form and wait until the header shows the logged-in navigation."""
    import re

    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(base + "/login")
    form = page.locator("main form")
    form.locator('input[name="login"]').fill(user.email)
    form.locator('input[name="password"]').fill(PASSWORD)
    form.locator('button[type="submit"]').click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    expect(page.locator("header nav a[href='/my']")).to_be_visible()
