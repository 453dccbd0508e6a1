"""The service's guards over real HTTP, as a hostile page or a script would meet them: a change
without the session's CSRF token is refused, and so is a request under a name the service does
not answer to (DNS rebinding); the same change with the token goes through."""

from __future__ import annotations

import html
import http.client
import json
import re

import pytest

from tests.web.browser.service import Service

pytestmark = pytest.mark.heavy
CONFIG = 'name = "web1"\nmemory = 64\nkernel = "/boot/vmlinuz-2.6.18-xen"\n'


def request(
    service: Service, method: str, path: str, headers: dict[str, str], body: str = ""
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        connection.request(method, path, body=body.encode() or None, headers=headers)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, html.unescape(answer.read().decode())
    finally:
        connection.close()


def state_of(service: Service, name: str) -> str:
    """The domain's state as ``xenctl list`` prints it (``-b----``, ``--p---`` ...)."""
    return service.xenctl("list", name).stdout.splitlines()[1].split()[4]


def session(service: Service) -> tuple[str, str]:
    """(the session cookie, its CSRF token), as a page loaded from the service has them."""
    status, headers, body = request(service, "GET", "/api/v1/session", {"Host": f"127.0.0.1:{service.port}"})
    assert status == 200
    cookie = re.match(r"(xenctl_session=[0-9a-f]+)", headers["set-cookie"])
    assert cookie is not None
    return cookie.group(1), json.loads(body)["csrf"]


@pytest.fixture
def running(service: Service) -> Service:
    (service.xen_root / "web1").write_text(CONFIG)
    service.xenctl("create", "web1")
    return service


def test_a_change_without_the_sessions_csrf_token_is_refused_and_changes_nothing(running: Service) -> None:
    cookie, token = session(running)
    own = {"Host": f"127.0.0.1:{running.port}", "Origin": running.url, "Cookie": cookie}
    form = {**own, "Content-Type": "application/x-www-form-urlencoded"}

    status, _, body = request(running, "POST", "/domains/web1/pause", form, "")
    assert status == 403
    assert "lacks this session's CSRF token" in body
    status, _, body = request(running, "POST", "/domains/web1/pause", form, "csrf_token=" + "0" * 64)
    assert status == 403
    assert "p" not in state_of(running, "web1")

    status, _, body = request(running, "POST", "/domains/web1/pause", form, f"csrf_token={token}")
    assert status == 303, body
    assert state_of(running, "web1") == "--p---"


def test_a_change_from_another_origin_is_refused_even_with_the_token(running: Service) -> None:
    cookie, token = session(running)
    headers = {"Host": f"127.0.0.1:{running.port}", "Origin": "http://evil.example", "Cookie": cookie}
    status, _, body = request(running, "POST", "/api/v1/domains/web1/pause", {**headers, "X-CSRF-Token": token})
    assert status == 403
    assert json.loads(body)["error"] == "a request from 'http://evil.example' may not change anything here"
    assert "p" not in state_of(running, "web1")


@pytest.mark.parametrize("path", ["/", "/api/v1/domains"])
def test_a_request_under_a_foreign_host_name_is_refused(running: Service, path: str) -> None:
    status, _, body = request(running, "GET", path, {"Host": f"rebound.example:{running.port}"})
    assert status == 421
    assert "does not answer to the name 'rebound.example:" in body
    assert "web1" not in body
