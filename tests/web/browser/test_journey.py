"""A user's afternoon with the web console, in a real browser on a real ``xenctl serve``:
connect, see Domain-0, make a guest with the New VM wizard, watch it run in the main window
(which updates itself), pause, resume and shut it down, then plan and apply with live progress."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.browser.conftest import mark_loaded, row, still_loaded
from tests.web.browser.service import Service

pytestmark = pytest.mark.heavy
LIVE = 5000  # ms: how long the live parts may take to show a change (they poll every second or two)


def make_guest_with_the_wizard(wizard: Any, name: str) -> None:
    wizard.get_by_role("link", name="New VM").click()
    expect(wizard.locator("h1")).to_have_text("New VM: Name")
    wizard.get_by_label("What is the name of your virtual machine?").fill(name)
    wizard.get_by_role("button", name="Forward").click()

    expect(wizard.locator("h1")).to_have_text("New VM: Virtualization method")
    wizard.get_by_label("Paravirtualized").check()
    wizard.get_by_role("button", name="Forward").click()

    expect(wizard.locator("h1")).to_have_text("New VM: Installation media")
    wizard.locator("input[name=location]").fill("http://mirror.example/debian/")
    wizard.get_by_role("button", name="Forward").click()

    expect(wizard.locator("h1")).to_have_text("New VM: Storage")
    expect(wizard.locator("input[name=disk]")).to_have_value(f"{name}.img")  # offered, as virt-manager does
    wizard.locator("input[name=disk_size]").fill("2")
    wizard.get_by_role("button", name="Forward").click()

    expect(wizard.locator("h1")).to_have_text("New VM: Memory and CPUs")
    wizard.get_by_label("How much RAM should be allocated (in megabytes)?").fill("256")
    wizard.get_by_label("Virtual CPUs").fill("2")
    wizard.get_by_role("button", name="Forward").click()

    expect(wizard.locator("h1")).to_have_text("New VM: Summary")
    spec = wizard.locator("pre.spec")
    expect(spec).to_contain_text(f"- name: {name}")
    expect(spec).to_contain_text("memory: 256M")
    expect(spec).to_contain_text("location: http://mirror.example/debian/")
    wizard.get_by_role("button", name="Finish").click()

    expect(wizard.locator(".job h2")).to_have_text("Apply 1: finished", timeout=15000)
    expect(wizard.locator(".job")).to_contain_text(f"domain.{name}: create done")
    expect(wizard.locator(".job .summary")).to_have_text("Apply finished: 2 done, 0 failed, 0 skipped.")


def test_a_guest_made_in_the_wizard_runs_pauses_resumes_stops_and_comes_back_by_apply(
    service: Service, page: Any
) -> None:
    main = page
    main.goto(service.url)
    expect(main.locator("h1")).to_have_text("Domains on xen1")
    expect(row(main, "Domain-0")).to_contain_text("running")
    mark_loaded(main)

    wizard = main.context.new_page()
    wizard.goto(service.url)
    make_guest_with_the_wizard(wizard, "web2")
    assert (service.specs / "web2.yaml").is_file()

    guest = row(main, "web2")
    expect(guest).to_contain_text("running", timeout=LIVE)
    expect(guest).to_contain_text("256 MiB")

    wizard.goto(f"{service.url}/domains/web2")
    expect(wizard.locator("h1")).to_have_text("web2")
    wizard.get_by_role("button", name="Pause").click()
    expect(wizard.locator("#action-result")).to_have_text("Domain web2: paused.")
    expect(guest).to_contain_text("paused", timeout=LIVE)
    expect(wizard.locator("#live")).to_contain_text("paused", timeout=LIVE)

    wizard.get_by_role("button", name="Resume").click()
    expect(wizard.locator("#action-result")).to_have_text("Domain web2: resumed.")
    expect(guest).to_contain_text("running", timeout=LIVE)

    wizard.get_by_role("button", name="Shut down").click()
    expect(wizard.locator("#action-result")).to_have_text("Domain web2: shutdown asked.")
    expect(guest).to_have_count(0, timeout=LIVE)
    expect(wizard.locator("#live")).to_contain_text("The domain web2 is gone.", timeout=LIVE)

    wizard.get_by_role("link", name="Plan").click()
    expect(wizard.locator("pre.plan")).to_contain_text("web2")
    expect(wizard.locator("pre.plan")).to_contain_text("1 to create")
    mark_loaded(wizard)
    wizard.get_by_role("button", name="Apply").click()
    progress = wizard.locator("#progress")
    expect(progress.locator("h2")).to_have_text("Apply 2: running")  # a guest boots in 2 s at this time scale
    expect(progress).to_contain_text("domain.web2: create...")
    expect(progress.locator("h2")).to_have_text("Apply 2: finished", timeout=15000)
    expect(progress).to_contain_text("domain.web2: create done")
    expect(progress.locator(".summary")).to_have_text("Apply finished: 1 done, 0 failed, 0 skipped.")
    assert still_loaded(wizard), "the apply's progress came by reloading the page"

    expect(guest).to_contain_text("running", timeout=LIVE)
    assert still_loaded(main), "the main window was reloaded; it should have updated itself"
