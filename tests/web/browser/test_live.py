"""What ``xenctl`` does in a terminal shows on the open main window by itself, within a second:
the list asks for itself again every second, and nothing needs a reload."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.browser.conftest import mark_loaded, row, still_loaded
from tests.web.browser.service import Service

pytestmark = pytest.mark.heavy
CONFIG = 'name = "{name}"\nmemory = 64\nkernel = "/boot/vmlinuz-2.6.18-xen"\n'


def seen_after(page: Any, check: Any) -> float:
    """Seconds from now until ``check`` (an expectation on the page) holds."""
    began = time.monotonic()
    check()
    return time.monotonic() - began


def test_what_the_cli_does_shows_on_the_open_page_within_a_second(service: Service, page: Any) -> None:
    (service.xen_root / "cli1").write_text(CONFIG.format(name="cli1"))
    page.goto(service.url)
    expect(row(page, "Domain-0")).to_be_visible()
    mark_loaded(page)
    guest = row(page, "cli1")
    took = {}

    service.xenctl("create", "cli1")
    took["create"] = seen_after(page, lambda: expect(guest).to_contain_text("cli1", timeout=1000))
    expect(guest).to_contain_text("running", timeout=3000)  # its boot takes 2 s at this time scale
    service.xenctl("pause", "cli1")
    took["pause"] = seen_after(page, lambda: expect(guest).to_contain_text("paused", timeout=1000))
    service.xenctl("unpause", "cli1")
    took["unpause"] = seen_after(page, lambda: expect(guest).to_contain_text("running", timeout=1000))
    service.xenctl("mem-set", "cli1", "48")
    took["mem-set"] = seen_after(page, lambda: expect(guest).to_contain_text("48 MiB", timeout=1000))
    service.xenctl("destroy", "cli1")
    took["destroy"] = seen_after(page, lambda: expect(guest).to_have_count(0, timeout=1000))

    assert still_loaded(page), "the page was reloaded; it should have updated itself"
    print("seen on the page after the command returned:", {k: f"{v:.2f} s" for k, v in took.items()})
