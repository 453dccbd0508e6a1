"""The planner asks the driver: ``xenctl plan`` on a host whose driver denies what a spec needs
refuses the step, naming the object, the step and the driver's reason, and changes nothing.

The host is the simulated one seen through ``Denying`` (tests/contract/doubles.py), put where
``xenctl`` finds drivers (``SCHEMES``), so the command runs as a user runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.contract.doubles import Denying
from tests.reconcile.support import EXAMPLES, converge, host_state, ok, write_spec, xenctl
from xenctl.app import host as host_module
from xenctl.app.host import Location, Settings
from xenctl.engine.api import Driver

IMAGE_SPEC = """
storage:
  volumes:
    - name: scratch
      file: {{path: scratch.img, size: {size}, sparse: true}}
"""
GUEST_SPEC = """
domains:
  - name: web1
    memory: {memory}
    maxmem: 512M
    kernel: /boot/vmlinuz-2.6.18-xen
    vifs: [{{bridge: xenbr0}}]
"""


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """What the host's driver denies, capability -> reason: fill it in, then run ``xenctl``."""
    denied: dict[str, str] = {}
    opened = host_module.SCHEMES[host_module.SIM_SCHEME]

    def open_denying(where: Location, settings: Settings) -> Driver:
        return Denying(opened(where, settings), denied)

    monkeypatch.setitem(host_module.SCHEMES, host_module.SIM_SCHEME, open_denying)
    yield denied


def refused(home: Path, spec: Path, denied: Mapping[str, str], name: str, step: str) -> None:
    """``xenctl plan`` exits 1 naming the object, the step and the reason, and changes nothing."""
    before = host_state(home)
    result = xenctl(home, "plan", str(spec))
    assert result.returncode == 1, result.stdout
    (reason,) = denied.values()
    assert name in result.stderr and step in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert host_state(home) == before


def test_with_every_capability_the_snapshot_example_plans_its_clone(tmp_path: Path, deny: dict[str, str]) -> None:
    plan = ok(xenctl(tmp_path / "home", "plan", str(EXAMPLES / "lvm-snapshot")))
    assert "gtesvmdisk1-clone" in plan.stdout


def test_a_snapshot_on_a_host_without_snapshots_is_refused_naming_the_volume(
    tmp_path: Path, deny: dict[str, str]
) -> None:
    deny["snapshots"] = "this host's volume manager makes no copy-on-write snapshots"
    refused(tmp_path / "home", EXAMPLES / "lvm-snapshot", deny, "gtesvmdisk1-clone", "snapshot")


def test_with_every_capability_a_larger_image_file_plans_to_grow(tmp_path: Path, deny: dict[str, str]) -> None:
    home = tmp_path / "home"
    converge(home, [write_spec(tmp_path / "specs", IMAGE_SPEC.format(size="1G"))])
    plan = ok(xenctl(home, "plan", str(write_spec(tmp_path / "specs", IMAGE_SPEC.format(size="2G")))))
    assert "volume.scratch" in plan.stdout
    assert "size: 1G -> 2G (grow-only)" in plan.stdout


def test_growing_an_image_file_on_a_host_that_cannot_is_refused_naming_it(tmp_path: Path, deny: dict[str, str]) -> None:
    home = tmp_path / "home"
    converge(home, [write_spec(tmp_path / "specs", IMAGE_SPEC.format(size="1G"))])
    deny["grow:file"] = "image files on this host do not grow in place"
    refused(home, write_spec(tmp_path / "specs", IMAGE_SPEC.format(size="2G")), deny, "scratch", "grow")


def memory_change(home: Path, spec: Path) -> tuple[int, str, str]:
    """The exit code, the action planned for web1 (or ""), and the error."""
    result = xenctl(home, "plan", "--json", str(spec))
    if result.returncode != 0:
        return result.returncode, "", result.stderr
    changes = {c["address"]: c for c in json.loads(result.stdout)["resource_changes"]}
    return 0, changes["domain.web1"]["change"]["xenctl_action"], ""


def test_with_every_capability_more_memory_within_maxmem_is_set_live(tmp_path: Path, deny: dict[str, str]) -> None:
    home = tmp_path / "home"
    converge(home, [write_spec(tmp_path / "specs", GUEST_SPEC.format(memory="256M"))])
    spec = write_spec(tmp_path / "specs", GUEST_SPEC.format(memory="384M"))
    assert memory_change(home, spec) == (0, "update", "")


def test_more_memory_on_a_host_without_live_memory_is_not_planned_as_a_live_change(
    tmp_path: Path, deny: dict[str, str]
) -> None:
    home = tmp_path / "home"
    converge(home, [write_spec(tmp_path / "specs", GUEST_SPEC.format(memory="256M"))])
    deny["live_memory"] = "this host cannot balloon a running guest"
    code, action, error = memory_change(home, write_spec(tmp_path / "specs", GUEST_SPEC.format(memory="384M")))
    # Either way a user can tell: the domain is restarted to take its new memory, or the plan is
    # refused naming the domain and the driver's reason.
    assert (code, action) == (0, "restart") or (code == 1 and "web1" in error and deny["live_memory"] in error)
