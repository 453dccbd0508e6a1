"""Shared fixtures: a fresh simulated host in a temporary home, on a virtual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xenctl.engine.sim import SimHost, VirtualClock, open_host
from xenctl.engine.sim.profile import profile_from_dict

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def host(home: Path, clock: VirtualClock) -> Iterator[SimHost]:
    """The built-in default profile (16 GiB, 8 CPUs, hda and sda), time standing still."""
    sim = open_host(str(home), clock=clock)
    yield sim
    sim.close()


@pytest.fixture
def make_host(tmp_path: Path, clock: VirtualClock) -> Iterator[Callable[..., SimHost]]:
    """Build a host from profile overrides: ``make_host(memory="2G", dom0={"min_mem": "196M"})``."""
    opened: list[SimHost] = []

    def make(**overrides: object) -> SimHost:
        profile = profile_from_dict(overrides, file="<test profile>")
        sim = open_host(str(tmp_path / f"home{len(opened)}"), clock=clock, profile=profile)
        opened.append(sim)
        return sim

    yield make
    for sim in opened:
        sim.close()


@pytest.fixture(autouse=True)
def xen_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's xen root (and its auto directory) is its own: never the machine's /etc/xen."""
    root = tmp_path / "xen"
    monkeypatch.setenv("XENCTL_XEN_ROOT", str(root))
    return root
