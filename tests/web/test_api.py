"""The JSON API, endpoint by endpoint: what it answers, and its refusals as the CLI words them."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from tests.helpers import run_xenctl
from tests.web.conftest import post
from xenctl.app.host import Host

SPEC = """\
domains:
  - name: api1
    memory: 128M
    kernel: /boot/vmlinuz-2.6.18-xen
    vifs:
      - {bridge: xenbr0}
"""


def test_host_says_which_host_and_what_it_holds(client: TestClient, served: Host) -> None:
    answer = client.get("/api/v1/host")
    assert answer.status_code == 200
    body = answer.json()
    assert body["url"] == served.url and body["domains"] == 2 and body["locked_by"] is None
    assert body["memory"]["total"] > 0 and body["runlevel"] in range(7)


def test_the_domain_list_has_every_domain_with_its_figures(client: TestClient) -> None:
    body = client.get("/api/v1/domains").json()
    rows = {d["name"]: d for d in body["domains"]}
    assert set(rows) == {"Domain-0", "web1"} and body["total"] == 2
    assert rows["web1"] == {
        "id": 1,
        "name": "web1",
        "state": "-b----",
        "phase": "running",
        "memory": 256,
        "vcpus": 1,
        "cpu_time": 0.0,
    }


def test_the_domain_list_filters_and_sorts(client: TestClient) -> None:
    by_memory = client.get("/api/v1/domains", params={"sort": "memory", "desc": "1"}).json()
    assert [d["name"] for d in by_memory["domains"]] == ["Domain-0", "web1"]
    assert [d["name"] for d in client.get("/api/v1/domains", params={"q": "WEB"}).json()["domains"]] == ["web1"]
    refused = client.get("/api/v1/domains", params={"sort": "colour"})
    assert refused.status_code == 400 and "sort by one of name" in refused.json()["error"]


def test_one_domain_has_its_config_disks_and_interfaces(client: TestClient) -> None:
    body = client.get("/api/v1/domains/web1").json()
    assert (body["maxmem"], body["vifs"][0]["bridge"], body["disks"]) == (512, "xenbr0", [])
    assert client.get("/api/v1/domains/1").json()["name"] == "web1"  # by domid, as xm takes it


def test_a_domain_that_is_not_there_is_xms_refusal_as_json(client: TestClient, home: Path) -> None:
    answer = client.get("/api/v1/domains/nosuch")
    cli = run_xenctl(home, "pause", "nosuch")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert f"Error: {answer.json()['error']}" == cli.stderr.strip()


def test_volumes_lists_what_the_host_has(client: TestClient, served: Host) -> None:
    served.driver.create_volume_group("vg", ("/dev/sda10",))
    served.driver.create_logical_volume("vg", "data", 64 * 1024 * 1024)
    body = client.get("/api/v1/volumes").json()
    assert [vg["name"] for vg in body["volume_groups"]] == ["vg"]
    assert [lv["path"] for lv in body["logical_volumes"]] == ["/dev/vg/data"]


def test_events_since_a_sequence_number(client: TestClient) -> None:
    post(client, "/api/v1/domains/web1/pause")
    events = client.get("/api/v1/events").json()["events"]
    assert [(e["op"], e["object"]) for e in events] == [("create", "web1"), ("pause", "web1")]
    later = client.get("/api/v1/events", params={"since": events[0]["seq"]}).json()["events"]
    assert [e["op"] for e in later] == ["pause"]
    assert client.get("/api/v1/events", params={"since": "-1"}).status_code == 400


def test_console_gives_the_domains_output(client: TestClient) -> None:
    body = client.get("/api/v1/domains/web1/console").json()
    assert body["domain"] == "web1" and any("Linux" in line["text"] for line in body["lines"])


def test_plan_is_the_text_the_cli_prints_and_the_json_plan(client: TestClient, specs: Path, home: Path) -> None:
    (specs / "api1.yaml").write_text(SPEC)
    text = client.get("/api/v1/plan").json()
    cli = run_xenctl(home, "plan", str(specs))
    assert text["actionable"] is True and text["text"] == cli.stdout.rstrip("\n")
    plan = client.get("/api/v1/plan", params={"format": "json"}).json()["plan"]
    assert plan == json.loads(run_xenctl(home, "plan", "--json", str(specs)).stdout)


def test_a_spec_mistake_is_the_clis_line_with_422(client: TestClient, specs: Path) -> None:
    (specs / "bad.yaml").write_text("domains:\n  - name: x\n    memory: lots\n")
    answer = client.get("/api/v1/plan")
    assert answer.status_code == 422 and "bad.yaml:3" in answer.json()["error"]


def test_apply_runs_as_a_job_whose_progress_streams_as_events(client: TestClient, specs: Path, served: Host) -> None:
    (specs / "api1.yaml").write_text(SPEC)
    digest = client.get("/api/v1/plan").json()["digest"]
    started = post(client, "/api/v1/apply", json={"digest": digest})
    assert started.status_code == 202
    stream = client.get(started.json()["events_url"])
    assert stream.headers["content-type"].startswith("text/event-stream")
    kinds = [line.split(": ", 1)[1] for line in stream.text.splitlines() if line.startswith("event: ")]
    assert kinds == ["plan", "started", "finished", "done"]
    assert served.driver.domain("api1").phase.value in ("booting", "running")
    job = client.get(f"/api/v1/jobs/{started.json()['id']}").json()
    assert job["done"] is True and job["events"][-1]["done"] == 1


def test_apply_refuses_a_plan_other_than_the_one_shown(client: TestClient, specs: Path, served: Host) -> None:
    (specs / "api1.yaml").write_text(SPEC)
    digest = client.get("/api/v1/plan").json()["digest"]
    (specs / "api2.yaml").write_text(SPEC.replace("api1", "api2"))  # the plan shown did not have it
    answer = post(client, "/api/v1/apply", json={"digest": digest})
    assert answer.status_code == 409 and "the plan changed since it was shown" in answer.json()["error"]
    assert served.driver.snapshot().domain("api1") is None


def test_the_lifecycle_actions_change_the_domain(client: TestClient, served: Host) -> None:
    assert post(client, "/api/v1/domains/web1/pause").json()["domain"]["phase"] == "paused"
    assert post(client, "/api/v1/domains/web1/unpause").json()["domain"]["phase"] == "running"
    assert post(client, "/api/v1/domains/web1/mem-set", json={"memory": 384}).status_code == 200
    assert served.driver.domain("web1").target == 384
    assert post(client, "/api/v1/domains/web1/vcpu-set", json={"vcpus": 1}).json()["domain"]["vcpus"] == 1
    assert post(client, "/api/v1/domains/web1/reboot").status_code == 200
    assert post(client, "/api/v1/domains/web1/destroy").json()["domain"] is None
    assert served.driver.snapshot().domain("web1") is None


def test_shutdown_asks_the_guest_to_go(client: TestClient, served: Host) -> None:
    assert post(client, "/api/v1/domains/web1/shutdown").status_code == 200
    assert served.driver.snapshot().domain("web1") is None  # instant simulated time: gone at once


def test_save_and_restore_by_file_name_in_the_save_directory(client: TestClient, served: Host) -> None:
    assert post(client, "/api/v1/domains/web1/save", json={"file": "web1.save"}).json()["domain"] is None
    restored = post(client, "/api/v1/restore", json={"file": "web1.save"})
    assert restored.status_code == 201 and restored.json()["name"] == "web1"
    refused = post(client, "/api/v1/domains/web1/save", json={"file": "../../etc/passwd"})
    assert refused.status_code == 400 and "file name" in refused.json()["error"]


def test_create_runs_an_xm_config_from_the_xen_root(client: TestClient, xen_root: Path) -> None:
    xen_root.mkdir(exist_ok=True)
    (xen_root / "db1").write_text('name = "db1"\nmemory = 128\nkernel = "/boot/vmlinuz-2.6.18-xen"\n')
    made = post(client, "/api/v1/domains", json={"config": "db1"})
    assert made.status_code == 201 and made.json()["name"] == "db1"
    refused = post(client, "/api/v1/domains", json={"config": "/etc/passwd"})
    assert refused.status_code == 400 and "file name" in refused.json()["error"]


def test_an_action_xen_refuses_answers_with_xends_message(client: TestClient, home: Path) -> None:
    answer = post(client, "/api/v1/domains/web1/mem-set", json={"memory": 4096})
    cli = run_xenctl(home, "mem-set", "web1", "4096")
    assert answer.status_code == 409 and cli.returncode == 1
    assert f"Error: {answer.json()['error']}" == cli.stderr.strip()
    assert "Traceback" not in answer.text


def test_an_action_while_another_command_holds_the_host_names_the_holder(client: TestClient, served: Host) -> None:
    with served.locked("xenctl apply by someone"):
        answer = post(client, "/api/v1/domains/web1/pause")
    assert answer.status_code == 409 and "xenctl apply by someone" in answer.json()["error"]
    assert served.driver.domain("web1").phase.value == "running"


def test_bodies_are_checked_as_hostile_input(client: TestClient) -> None:
    for body, words in [
        (b"{not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"memory": 1, "rm": true}', "unknown field 'rm'"),
        (b'{"memory": "1"}', "whole number"),
        (b'{"memory": true}', "whole number"),
        (b'{"memory": -5}', "whole number"),
        (b"{}", "give memory"),
    ]:
        answer = post(client, "/api/v1/domains/web1/mem-set", content=body)
        assert (answer.status_code, words in answer.json()["error"]) == (400, True), body


def test_an_unknown_action_or_address_is_a_json_404(client: TestClient) -> None:
    assert post(client, "/api/v1/domains/web1/explode").status_code == 404
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "there is no such page"


def test_an_xenctl_command_shows_up_in_the_domain_list(client: TestClient, home: Path, xen_root: Path) -> None:
    xen_root.mkdir(exist_ok=True)
    (xen_root / "cli1").write_text('name = "cli1"\nmemory = 128\nkernel = "/boot/vmlinuz-2.6.18-xen"\n')
    client.get("/api/v1/domains")  # the service has read the host before the command runs
    assert run_xenctl(home, "create", "cli1").returncode == 0
    names = [d["name"] for d in client.get("/api/v1/domains").json()["domains"]]
    assert names == ["Domain-0", "cli1", "web1"]
