"""What the browser found broken in the console's windows, each seen as a user sees it:
Domain-0's details window, the plan page of an empty specs directory, the icon every page asks for."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.browser.service import Service

pytestmark = pytest.mark.heavy


def test_domain0s_window_shows_its_facts_and_says_its_console_is_the_hosts_terminal(
    service: Service, page: Any
) -> None:
    page.goto(service.url)
    page.get_by_role("link", name="Domain-0").click()
    expect(page.locator("h1")).to_have_text("Domain-0")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("running")
    expect(facts).to_contain_text("1024 MiB")
    expect(page.locator("pre.console")).to_contain_text("Domain-0's console is the host's own terminal")
    page.get_by_role("button", name="Pause").click()  # Xen's refusal, in the window, not a broken page
    expect(page.locator("#action-result")).to_have_text("Error: Cannot pause privileged domain")


def test_the_plan_page_of_an_empty_specs_directory_says_there_is_nothing_to_plan(service: Service, page: Any) -> None:
    page.goto(service.url)
    page.get_by_role("link", name="Plan").click()
    expect(page.locator("p.empty")).to_contain_text(f"There are no specs in {service.specs} yet")
    expect(page.locator(".error")).to_have_count(0)
    page.get_by_role("link", name="New VM", exact=True).last.click()
    expect(page.locator("h1")).to_have_text("New VM: Name")


def test_no_page_asks_for_something_the_service_does_not_have(service: Service, page: Any) -> None:
    missing: list[str] = []
    page.on("response", lambda answer: answer.status == 404 and missing.append(answer.url))
    for path in ("/", "/domains/Domain-0", "/new", "/plan", "/connect"):
        page.goto(service.url + path)
        page.wait_for_load_state("networkidle")
    assert missing == []
