"""The service under test: a fresh simulated host in a temporary home, instant simulated time,
and Starlette's test client talking to the app as a browser on 127.0.0.1:8000 would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers import domain
from xenctl.app.host import Host, Settings, connect, sim_url
from xenctl.web.config import ServerConfig, host_names
from xenctl.web.server import build_app

ORIGIN = "http://127.0.0.1:8000"


@pytest.fixture
def settings(xen_root: Path) -> Settings:
    return Settings(xen_root=str(xen_root), time_scale=0, actor="the test")


@pytest.fixture
def served(home: Path, settings: Settings) -> Iterator[Host]:
    """The host the service serves, opened by the test too (with web1 running on it)."""
    with connect(sim_url(str(home)), settings) as host:
        host.driver.create_domain(domain("web1", 256, maxmem=512))
        yield host


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    path = tmp_path / "specs"
    path.mkdir()
    return path


@pytest.fixture
def make_config(home: Path, settings: Settings, specs: Path) -> Callable[..., ServerConfig]:
    def make(**changes: object) -> ServerConfig:
        fields: dict[str, object] = {
            "url": sim_url(str(home)),
            "settings": settings,
            "specs": str(specs),
            "listen": "127.0.0.1",
            "port": 8000,
            "allowed_hosts": host_names("127.0.0.1", 8000),
        }
        fields.update(changes)
        return ServerConfig(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def client(served: Host, make_config: Callable[..., ServerConfig]) -> Iterator[TestClient]:
    with TestClient(build_app(make_config()), base_url=ORIGIN) as test_client:
        yield test_client


def csrf(client: TestClient) -> str:
    """This client's session's CSRF token (the first request makes the session)."""
    token = client.get("/api/v1/session").json()["csrf"]
    assert isinstance(token, str)
    return token


def post(client: TestClient, path: str, **kwargs: object) -> object:
    """A POST as the page makes it: same origin, with the session's CSRF token."""
    headers = {"Origin": ORIGIN, "X-CSRF-Token": csrf(client), **dict(kwargs.pop("headers", {}) or {})}  # type: ignore[call-overload]
    return client.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]
