"""The pages: they render, escape what they show, answer with xend's refusals, and keep up."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path

from markupsafe import escape
from starlette.testclient import TestClient

from tests.helpers import domain, run_xenctl
from tests.web.conftest import ORIGIN, csrf, post
from tests.web.test_api import SPEC
from xenctl.app.host import Host, Settings, connect, sim_url
from xenctl.engine.sim import VirtualClock, open_host
from xenctl.engine.sim.profile import profile_from_dict
from xenctl.web.config import ServerConfig
from xenctl.web.server import build_app

HOSTILE = '<img src=x onerror="alert(1)">'
HX = {"HX-Request": "true"}


def test_the_main_window_lists_every_domain_and_polls_for_itself(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<a href="/domains/web1">web1</a>' in page.text and "256 MiB" in page.text
    assert 'hx-trigger="every 500ms"' in page.text and "/static/htmx-2.0.11.min.js" in page.text
    assert client.get("/static/htmx-2.0.11.min.js").text.startswith("var htmx=function()")


def test_the_table_sorts_and_filters_on_the_server(client: TestClient) -> None:
    by_memory = client.get("/fragments/domains", params={"sort": "memory", "desc": "1"}).text
    assert by_memory.index("Domain-0") < by_memory.index("web1")
    by_name_down = client.get("/fragments/domains", params={"sort": "name", "desc": "1"}).text
    assert by_name_down.index("web1") < by_name_down.index("Domain-0")
    only = client.get("/fragments/domains", params={"q": "web"}).text
    assert "web1" in only and "Domain-0" not in only and "1 of 2 domains" in only


def test_a_command_in_a_terminal_shows_on_the_next_poll(client: TestClient, home: Path) -> None:
    assert "paused" not in client.get("/fragments/domains").text
    assert run_xenctl(home, "pause", "web1").returncode == 0
    assert "--p---" in client.get("/fragments/domains").text


def test_a_domains_window_has_its_config_disks_interfaces_console_and_events(client: TestClient) -> None:
    page = client.get("/domains/web1")
    assert page.status_code == 200
    for shown in ("maxmem = 512", "xenbr0", "Linux version", "<td>create</td>", 'value="256"'):
        assert shown in page.text, shown
    assert "Linux version" in client.get("/fragments/domains/web1").text


def test_hostile_text_is_escaped_wherever_a_page_shows_it(client: TestClient, served: Host) -> None:
    served.driver.record_event("note", "web1", "ok", HOSTILE)
    escaped = str(escape(HOSTILE))  # as Jinja2 writes it
    shown = client.get("/domains/web1").text
    assert escaped in shown and HOSTILE not in shown
    missing = client.get(f"/domains/{HOSTILE}")
    assert missing.status_code == 404 and str(escape(f"Domain '{HOSTILE}'")) in missing.text
    assert HOSTILE not in missing.text
    filtered = client.get("/", params={"q": HOSTILE}).text
    assert HOSTILE not in filtered and "0 of 2 domains" in filtered


def test_an_action_xen_refuses_shows_xends_message_in_the_page(client: TestClient, home: Path) -> None:
    answer = post(client, "/domains/web1/mem-set", data={"memory": "4096"}, headers=HX)
    cli = run_xenctl(home, "mem-set", "web1", "4096")
    assert answer.status_code == 409
    assert html.escape(cli.stderr.strip()) in answer.text and 'class="error"' in answer.text


def test_the_pages_actions_run_pause_resume_and_destroy(client: TestClient, served: Host, xen_root: Path) -> None:
    assert "paused" in post(client, "/domains/web1/pause", headers=HX).text
    assert "resumed" in post(client, "/domains/web1/unpause", headers=HX).text
    assert post(client, "/domains/web1/vcpu-set", data={"vcpus": "x"}, headers=HX).status_code == 400
    assert "destroyed" in post(client, "/domains/web1/destroy", headers=HX).text
    xen_root.mkdir(exist_ok=True)
    (xen_root / "web2").write_text('name = "web2"\nmemory = 128\nkernel = "/boot/vmlinuz-2.6.18-xen"\n')
    assert "<option>web2</option>" in client.get("/").text
    assert "Started domain web2" in post(client, "/run", data={"config": "web2"}, headers=HX).text
    assert served.driver.domain("web2").phase.value in ("booting", "running")


def test_the_plan_page_shows_the_plan_as_the_cli_prints_it_and_applies_it(
    client: TestClient, specs: Path, home: Path, served: Host
) -> None:
    (specs / "api1.yaml").write_text(SPEC)
    page = client.get("/plan")
    cli = run_xenctl(home, "plan", str(specs))
    assert page.status_code == 200 and html.escape(cli.stdout.rstrip("\n")) in page.text
    digest = page.text.split('name="digest" value="', 1)[1].split('"', 1)[0]
    started = post(client, "/apply", data={"digest": digest}, headers=HX)
    assert started.status_code == 200 and "Apply 1" in started.text
    for _ in range(100):
        progress = client.get("/jobs/1", headers=HX).text
        if "finished" in progress.split("</h2>")[0]:
            break
        time.sleep(0.05)
    assert "domain.api1: create done" in progress and "1 done, 0 failed" in progress
    assert served.driver.domain("api1") is not None
    assert "Apply" not in client.get("/plan").text.split("</pre>", 1)[1]  # nothing left to do


def test_the_connect_page_offers_this_host_first_and_refuses_one_that_is_not_there(
    client: TestClient, served: Host, tmp_path: Path
) -> None:
    page = client.get("/connect").text
    assert "(this service's host)" in page and page.index(served.url) == page.index("sim://")
    token = csrf(client)
    nowhere = sim_url(str(tmp_path / "nowhere"))
    refused = client.post("/connect", headers={"Origin": ORIGIN}, data={"csrf_token": token, "other": nowhere})
    assert refused.status_code == 400 and "there is no host at" in refused.text
    assert not (tmp_path / "nowhere").exists()
    other = tmp_path / "other"
    with connect(sim_url(str(other)), served.settings) as second:
        second.driver.create_domain(domain("elsewhere"))
    moved = client.post(
        "/connect", headers={"Origin": ORIGIN}, data={"csrf_token": token, "other": sim_url(str(other))}
    )
    assert moved.status_code == 200 and "elsewhere" in moved.text and "web1" not in moved.text


def test_a_thousand_domains_render_a_page_at_a_time_and_quickly(
    tmp_path: Path, make_config: Callable[..., ServerConfig], settings: Settings
) -> None:
    home = tmp_path / "big"
    profile = profile_from_dict({"memory": "80G", "cpus": 32}, file="<big>")
    sim = open_host(str(home), clock=VirtualClock(), profile=profile)
    for i in range(1000):
        sim.create_domain(domain(f"vm{i:04d}", 64, vifs=()))
    sim.close()
    with TestClient(build_app(make_config(url=sim_url(str(home)))), base_url=ORIGIN) as client:
        client.get("/fragments/domains")
        began = time.perf_counter()
        table = client.get("/fragments/domains", params={"sort": "name", "page": "3"}).text
        took = time.perf_counter() - began
    assert "1001 of 1001 domains, page 3 of 11" in table
    assert table.count("<tr>") == 101 and "vm0199" in table and "vm0299" not in table
    assert took < 1.0


def test_without_htmx_apply_leads_to_a_whole_page_of_its_progress(client: TestClient, specs: Path) -> None:
    (specs / "api1.yaml").write_text(SPEC)
    answer = post(client, "/apply", data={"digest": ""})
    assert answer.status_code == 200 and str(answer.url).endswith("/jobs/1")
    assert answer.text.startswith("<!doctype html>") and "Apply 1" in answer.text


def test_the_global_connect_option_names_the_host_served() -> None:
    from xenctl.cli.context import host_url
    from xenctl.cli.main import build_parser

    args = build_parser().parse_args(["-c", "sim:///srv/xen", "serve", "--specs", "specs"])
    assert args.serve_connect is None and host_url(args) == "sim:///srv/xen"
    own = build_parser().parse_args(["-c", "sim:///srv/xen", "serve", "--connect", "sim:///srv/other"])
    assert own.serve_connect == "sim:///srv/other"
