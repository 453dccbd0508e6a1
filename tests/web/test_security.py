"""Every request's checks: the Host header, the token, CSRF and origin, the body's size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers import run_xenctl
from tests.web.conftest import ORIGIN, csrf, post
from xenctl.app.host import Host
from xenctl.errors import UsageError
from xenctl.web.config import ServerConfig, host_names, server_config
from xenctl.web.server import build_app

TOKEN = "s3cret-token-for-the-tests"


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(client: TestClient, served: Host) -> None:
    answer = client.post("/api/v1/domains/web1/pause", headers={"Origin": ORIGIN})
    assert answer.status_code == 403 and "CSRF token" in answer.json()["error"]
    form = client.post("/domains/web1/pause", headers={"Origin": ORIGIN}, data={"csrf_token": "forged"})
    assert form.status_code == 403 and "CSRF token" in form.text
    assert served.driver.domain("web1").phase.value == "running"


def test_the_csrf_token_may_come_in_the_forms_hidden_field(client: TestClient, served: Host) -> None:
    token = csrf(client)
    answer = client.post(
        "/domains/web1/pause", headers={"Origin": ORIGIN}, data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/domains/web1"
    assert served.driver.domain("web1").phase.value == "paused"


def test_another_sessions_csrf_token_is_refused(client: TestClient, served: Host) -> None:
    theirs = csrf(client)
    client.cookies.clear()
    answer = client.post("/api/v1/domains/web1/pause", headers={"Origin": ORIGIN, "X-CSRF-Token": theirs})
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Referer": "http://evil.example/page"}, {}],
)
def test_a_post_from_another_origin_or_from_nowhere_is_refused(
    client: TestClient, served: Host, headers: dict[str, str]
) -> None:
    answer = client.post("/api/v1/domains/web1/pause", headers={"X-CSRF-Token": csrf(client), **headers})
    assert answer.status_code == 403
    assert served.driver.domain("web1").phase.value == "running"


def test_a_same_origin_referer_is_enough_without_origin(client: TestClient, served: Host) -> None:
    headers = {"Referer": f"{ORIGIN}/domains/web1", "X-CSRF-Token": csrf(client)}
    assert client.post("/api/v1/domains/web1/pause", headers=headers).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1:9999", ""])
def test_a_foreign_host_header_is_refused_even_for_reads(client: TestClient, host: str) -> None:
    answer = client.get("/api/v1/domains", headers={"Host": host})
    assert answer.status_code == 421 and "does not answer to the name" in answer.json()["error"]
    page = client.get("/", headers={"Host": host})
    assert page.status_code == 421 and "web1" not in page.text


def test_loopbacks_names_are_all_answered_to(client: TestClient) -> None:
    for host in ("localhost:8000", "[::1]:8000", "127.0.0.1:8000"):
        assert client.get("/api/v1/host", headers={"Host": host}).status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(client: TestClient) -> None:
    answer = post(client, "/api/v1/domains/web1/mem-set", content=b"{" + b" " * 70_000 + b"}")
    assert answer.status_code == 413 and "larger than 65536 bytes" in answer.json()["error"]


def test_every_answer_forbids_framing_and_sniffing(client: TestClient) -> None:
    headers = client.get("/").headers
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]


@pytest.fixture
def guarded(served: Host, make_config: Callable[..., ServerConfig]) -> TestClient:
    return TestClient(build_app(make_config(token=TOKEN)), base_url=ORIGIN, follow_redirects=False)


def test_with_a_token_every_request_needs_it(guarded: TestClient) -> None:
    refused = guarded.get("/api/v1/domains")
    assert refused.status_code == 401 and "needs its token" in refused.json()["error"]
    assert guarded.get("/").status_code == 401
    assert guarded.get("/api/v1/domains", headers={"Authorization": "Bearer wrong-token-xxxxxx"}).status_code == 401
    assert guarded.get("/api/v1/domains", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_login_form_sets_the_cookie_that_signs_in(guarded: TestClient) -> None:
    form = guarded.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    token = guarded.get("/api/v1/session", headers={"Authorization": f"Bearer {TOKEN}"}).json()["csrf"]
    wrong = guarded.post("/login", headers={"Origin": ORIGIN}, data={"csrf_token": token, "token": "nope"})
    assert wrong.status_code == 401 and "not this service&#39;s token" in wrong.text
    right = guarded.post("/login", headers={"Origin": ORIGIN}, data={"csrf_token": token, "token": TOKEN})
    assert right.status_code == 303 and "HttpOnly" in right.headers["set-cookie"]
    assert guarded.get("/").status_code == 200


def test_listening_beyond_loopback_without_a_token_is_refused(tmp_path: Path, served: Host) -> None:
    with pytest.raises(UsageError, match="listening beyond loopback needs --token-file"):
        server_config(served.url, served.settings, listen="0.0.0.0:8000", specs=None, token_file=None)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    config = server_config(served.url, served.settings, listen="0.0.0.0:8000", specs=None, token_file=str(token_file))
    assert config.token == TOKEN and "localhost:8000" in config.allowed_hosts


def test_the_command_refuses_in_one_line(home: Path, tmp_path: Path) -> None:
    refused = run_xenctl(home, "serve", "--listen", "0.0.0.0:8000")
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: --listen 0.0.0.0:8000: listening beyond loopback needs --token-file")
    assert len(refused.stderr.splitlines()) == 1
    (tmp_path / "short").write_text("abc\n")
    short = run_xenctl(home, "serve", "--token-file", str(tmp_path / "short"))
    assert short.returncode == 1 and "the token must be one line of 16" in short.stderr
    assert "is not HOST:PORT" not in run_xenctl(home, "serve", "--listen", "nonsense").stderr
    assert "write HOST:PORT" in run_xenctl(home, "serve", "--listen", "nonsense").stderr


def test_a_service_on_one_address_answers_only_to_it() -> None:
    assert host_names("192.0.2.7", 8080) == frozenset({"192.0.2.7:8080"})
