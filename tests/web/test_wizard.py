"""The New VM wizard: virt-manager's steps, xenctl new's validators and messages, a spec written
into the specs directory, and the apply that makes the guest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from tests.web.conftest import ORIGIN, csrf
from xenctl.app.answers import parse_disk_size, parse_name, parse_ram
from xenctl.app.host import Host
from xenctl.spec.load import load_specs
from xenctl.units import MIB

GOOD = {
    "name": "web2",
    "virt": "pv",
    "graphics": "no",
    "media": "location",
    "location": "http://mirror/centos/5/os/i386",
    "iso": "",
    "storage": "file",
    "disk": "web2.img",
    "disk_size": "2",
    "partition": "",
    "ram": "512",
    "vcpus": "2",
}


def step(client: TestClient, at: str, go: str = "next", **answers: str) -> Any:
    form = {**GOOD, **answers, "step": at, "go": go, "csrf_token": csrf(client)}
    return client.post("/new", data=form, headers={"Origin": ORIGIN}, follow_redirects=False)


def wait_done(client: TestClient, where: str) -> str:
    for _ in range(200):
        page = client.get(where).text
        if "finished" in page:
            return page
        time.sleep(0.05)
    raise AssertionError(f"the job at {where} did not finish")


def test_the_steps_come_in_virt_managers_order(client: TestClient) -> None:
    first = client.get("/new")
    assert first.status_code == 200 and "What is the name of your virtual machine?" in first.text
    expected = [("name", "Virtualization method"), ("virt", "Installation media"), ("media", "Storage")]
    expected += [("storage", "Memory and CPUs"), ("resources", "Summary")]
    for at, title in expected:
        answer = step(client, at)
        assert answer.status_code == 200, answer.text
        assert f"<h1>New VM: {title}</h1>" in answer.text


def test_finishing_writes_the_spec_and_applies_it(client: TestClient, specs: Path, served: Host) -> None:
    summary = step(client, "resources")
    assert "name: web2" in summary.text and "vcpus: 2" in summary.text
    done = step(client, "summary", go="finish")
    assert done.status_code == 303 and done.headers["location"].startswith("/jobs/")
    page = wait_done(client, done.headers["location"])
    assert "domain.web2: create done" in page and "1 failed" not in page
    written = specs / "web2.yaml"
    assert "made by the New VM wizard of xenctl serve" in written.read_text()
    (domain,) = load_specs([str(written)]).domains
    assert (domain.memory, domain.vcpus, domain.bootloader) == (512, 2, "pygrub")
    made = served.driver.domain("web2")
    assert (made.memory, made.vcpus) == (512, 2)


def test_a_fully_virtualised_guest_from_an_iso_on_a_partition(client: TestClient, specs: Path, served: Host) -> None:
    iso = f"{served.driver.snapshot().host.storage_root}/centos.iso"
    served.driver.create_image(iso, 700 * MIB)
    answers = {"virt": "hvm", "media": "iso", "iso": iso, "storage": "partition", "partition": "/dev/hda3"}
    answers["name"] = "win1"
    done = step(client, "summary", go="finish", **answers)
    assert done.status_code == 303, done.text
    assert "domain.win1: create done" in wait_done(client, done.headers["location"])
    text = (specs / "win1.yaml").read_text()
    for shown in ("partition: /dev/hda3", f"file: {iso}", "cdrom: true", "boot: dc", "vcpus: 2"):
        assert shown in text, shown
    unames = [d.uname for d in served.driver.domain("win1").config.disks]
    assert unames == ["phy:/dev/hda3", f"file:{iso}"]


def test_an_iso_that_is_not_on_the_host_is_refused_and_no_spec_is_kept(client: TestClient, specs: Path) -> None:
    answers = {"virt": "hvm", "media": "iso", "iso": "/nowhere/centos.iso", "name": "win1"}
    done = step(client, "summary", go="finish", **answers)
    assert done.status_code == 409
    assert "/nowhere/centos.iso, which is not on this host (the spec was not kept)" in done.text
    assert list(specs.iterdir()) == []


@pytest.mark.parametrize(
    ("at", "answers", "reason"),
    [
        ("name", {"name": "web 1"}, lambda: _reason(parse_name, "web 1")),
        ("name", {"name": "Domain-0"}, lambda: _reason(parse_name, "Domain-0")),
        ("name", {"name": "../../etc/passwd"}, lambda: _reason(parse_name, "../../etc/passwd")),
        ("virt", {"virt": "xen"}, lambda: "choose paravirtualized or fully virtualized"),
        ("media", {"location": "gopher://old"}, lambda: "is not an install location"),
        ("media", {"media": "iso", "iso": "/tmp/x.iso"}, lambda: "an ISO needs a fully virtualized one"),
        ("media", {"media": "iso", "virt": "hvm", "iso": "/tmp/x.img"}, lambda: "is not an ISO image"),
        ("storage", {"disk": "../web2.img"}, lambda: "has '..'"),
        ("storage", {"disk_size": "0.1"}, lambda: _reason(parse_disk_size, "0.1")),
        ("storage", {"storage": "partition", "partition": "hda3"}, lambda: "is not a partition"),
        ("resources", {"ram": "100"}, lambda: _reason(parse_ram, "100")),
        ("resources", {"vcpus": "33"}, lambda: "a guest has from 1 to 32"),
    ],
)
def test_each_refusal_keeps_the_step_and_says_xenctl_news_reason(
    client: TestClient, at: str, answers: dict[str, str], reason: Any
) -> None:
    answer = step(client, at, **answers)
    assert answer.status_code == 400
    assert str(escape(reason())) in answer.text
    assert 'name="step" value="' + at + '"' in answer.text


def _reason(parse: Any, text: str) -> str:
    try:
        parse(text)
    except ValueError as bad:
        return str(bad)
    raise AssertionError(f"{text!r} was accepted")


def test_a_hostile_name_is_refused_and_shown_escaped(client: TestClient, specs: Path) -> None:
    hostile = '<script>alert("x")</script>'
    answer = step(client, "name", name=hostile)
    assert answer.status_code == 400
    assert "<script>alert" not in answer.text and str(escape(hostile)) in answer.text
    finish = step(client, "summary", go="finish", name=hostile)  # straight to the end: checked again
    assert finish.status_code == 400 and "<script>alert" not in finish.text
    assert list(specs.iterdir()) == []


def test_back_keeps_the_answers(client: TestClient) -> None:
    back = step(client, "storage", go="back", disk="kept.img", location="nfs:srv:/tree")
    assert "<h1>New VM: Installation media</h1>" in back.text
    assert 'value="nfs:srv:/tree"' in back.text and 'name="disk" value="kept.img"' in back.text


def test_an_existing_spec_is_never_overwritten(client: TestClient, specs: Path) -> None:
    (specs / "web2.yaml").write_text("# mine\n")
    assert "web2.yaml already exists" in step(client, "name").text
    finish = step(client, "summary", go="finish")
    assert finish.status_code == 400 and "web2.yaml already exists" in finish.text
    assert (specs / "web2.yaml").read_text() == "# mine\n"


def test_a_plan_the_host_refuses_keeps_no_spec(client: TestClient, specs: Path) -> None:
    finish = step(client, "summary", go="finish", name="web1")  # web1 runs, unmanaged: the plan refuses it
    assert finish.status_code == 409
    assert "the spec was not kept" in finish.text
    assert not (specs / "web1.yaml").exists()


def test_every_step_needs_the_csrf_token(client: TestClient, specs: Path) -> None:
    form = {**GOOD, "step": "summary", "go": "finish"}
    refused = client.post("/new", data=form, headers={"Origin": ORIGIN})
    assert refused.status_code == 403
    foreign = client.post("/new", data={**form, "csrf_token": csrf(client)}, headers={"Origin": "http://evil"})
    assert foreign.status_code == 403
    assert list(specs.iterdir()) == []


def test_without_a_specs_directory_the_wizard_says_how_to_get_one(served: Host, make_config: Any) -> None:
    from xenctl.web.server import build_app

    with TestClient(build_app(make_config(specs=None)), base_url=ORIGIN) as bare:
        page = bare.get("/new")
    assert page.status_code == 400 and "xenctl serve --specs DIR" in page.text
