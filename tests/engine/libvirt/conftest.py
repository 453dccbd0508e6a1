"""Fixtures of the libvirt driver's tests: one private libvirtd for the whole run, started on
first use by a test that needs it (those are marked ``heavy``) and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.libvirt.daemon import Daemon


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[Daemon]:
    """A libvirtd of the tests' own (see daemon.py); a missing part fails the test, loudly."""
    with Daemon() as daemon:
        yield daemon
