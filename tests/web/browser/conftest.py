"""The browser tests' parts: ``xenctl serve`` as a real process on a fresh host (``service``),
and Debian's chromium driven by Playwright (``page``), one browser for the module's tests.

These tests are ``heavy``: ``make quick`` leaves them out, ``make test`` runs them, and a
missing chromium or Playwright fails them (it never skips them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.service import CHROMIUM, Service

pytestmark = pytest.mark.heavy


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with Service(tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup-system as root (it installs chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


# What the browser logs when the service refuses something with a 4xx (a refusal the page shows)
REFUSALS = ("Failed to load resource: the server responded with a status of 4", "Response Status Error Code 4")


def refusal(text: str) -> bool:
    return text.startswith(REFUSALS)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own cookies) and page; the page's script errors fail the test
    (the service's 4xx refusals aside: the page shows those to the user)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console", lambda message: message.type == "error" and not refusal(message.text) and errors.append(message.text)
    )
    yield opened
    context.close()
    assert not errors, f"the page reported errors: {errors}"


def row(page: Any, name: str) -> Any:
    """The domain list's row of ``name`` (its first cell's link is exactly the name)."""
    import re

    return page.locator("table.domains tbody tr").filter(
        has=page.get_by_role("link", name=re.compile(f"^{re.escape(name)}$"))
    )


def mark_loaded(page: Any) -> None:
    """Leave a mark in the page's window that a reload or a navigation would wipe."""
    page.evaluate("window.xenctlTestMark = 'not reloaded'")


def still_loaded(page: Any) -> bool:
    return bool(page.evaluate("window.xenctlTestMark === 'not reloaded'"))
